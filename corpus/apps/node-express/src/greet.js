function greet(name) {
  return `hello, ${name || "world"}`;
}

module.exports = { greet };
