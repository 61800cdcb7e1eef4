function banner() {
  return "hello from a pnpm app\n";
}

module.exports = { banner };
