import os
from importlib.metadata import version

from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/health")
def health():
    # setuptools-scm took this version from the git tag while pip built the project
    return jsonify(status="healthy", version=version("svc"))


app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8119")))
