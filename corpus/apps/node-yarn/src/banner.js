function banner() {
  return "hello from a yarn classic app\n";
}

module.exports = { banner };
