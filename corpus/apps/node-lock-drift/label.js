function label() {
  return "lock <drift>";
}

module.exports = { label };
