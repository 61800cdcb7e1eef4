import os

from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/health")
def health():
    # both files are made by a RUN in the Dockerfile (not in the build context) and readable by their owner only:
    # a new non-root USER must own them, or these reads fail with "Permission denied"
    with open("key.pem", encoding="utf-8") as fh:
        key = fh.read().strip()
    with open(os.path.join("secrets", "token"), encoding="utf-8") as fh:
        token = fh.read().strip()
    return jsonify(status="healthy", key=key, token=token)


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8115")))
