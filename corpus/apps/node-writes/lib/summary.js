function summarize(lines) {
  const visits = lines.filter((l) => l.startsWith("visit")).length;
  return `visits=${visits} starts=${lines.length - visits}`;
}

module.exports = { summarize };
