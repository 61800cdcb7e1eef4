function greet() {
  return "hello from app/";
}

module.exports = { greet };
