function uptime() {
  return Math.round(process.uptime());
}

module.exports = { uptime };
