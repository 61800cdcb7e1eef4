export function greeting(name) {
  return `hello from the ${name}`;
}
