function banner() {
  return "hello from a yarn berry app\n";
}

module.exports = { banner };
