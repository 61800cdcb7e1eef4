import os

from flask import Flask, jsonify

from greeting import greeting

app = Flask(__name__)


@app.route("/")
def index():
    return greeting()


@app.route("/health")
def health():
    return jsonify(status="ok", tool="pipenv", greeting=greeting())


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")))
