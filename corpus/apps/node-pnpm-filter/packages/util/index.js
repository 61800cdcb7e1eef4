function label(name) {
  return "web+" + name;
}

module.exports = { label };
