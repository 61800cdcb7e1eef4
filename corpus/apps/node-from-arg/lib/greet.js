function greet() {
  return "hello from node " + process.versions.node.split(".")[0];
}

module.exports = { greet };
