import os

from flask import Flask, jsonify

app = Flask(__name__)


def greeting(name: str) -> str:
    return f"hello, {name}"


@app.route("/health")
def health():
    return jsonify(status="healthy", greeting=greeting("build"))


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8117")))
