function greet() {
  return "hello from an npm workspace";
}

module.exports = { greet };
