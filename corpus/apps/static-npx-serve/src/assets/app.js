const greeting = "static-npx-serve: built";

if (typeof module !== "undefined") module.exports = { greeting };
