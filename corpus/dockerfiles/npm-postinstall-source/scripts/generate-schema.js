// Reads every src/schema/*.graphql file and writes src/generated/schema.js.
const fs = require('fs');
const path = require('path');

const dir = path.join(__dirname, '..', 'src', 'schema');
const sdl = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
fs.mkdirSync(path.join(__dirname, '..', 'src', 'generated'), { recursive: true });
fs.writeFileSync(path.join(__dirname, '..', 'src', 'generated', 'schema.js'), `module.exports = ${JSON.stringify(sdl)};\n`);
