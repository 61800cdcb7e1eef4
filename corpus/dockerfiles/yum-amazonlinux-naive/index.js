const sharp = require('sharp');

exports.handler = async (evt) => sharp(evt.path).resize(128).toBuffer();
