import os
import platform

from flask import Flask, jsonify, render_template

app = Flask(__name__)


@app.route("/")
def index():
    return render_template("index.html", python=platform.python_version())


@app.route("/health")
def health():
    # read static/ at request time: a rewrite that drops it breaks this route
    with open(os.path.join(app.static_folder, "style.css"), encoding="utf-8") as fh:
        css_bytes = len(fh.read())
    page = render_template("index.html", python=platform.python_version())
    return jsonify(status="healthy", css_bytes=css_bytes, page_bytes=len(page))


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")))
