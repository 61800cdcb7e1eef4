const { buildSchema } = require('graphql');
const sdl = require('./generated/schema');

console.log(buildSchema(sdl).getQueryType().name);
