function message() {
  return "hello <from> a $PORT app";
}

module.exports = { message };
