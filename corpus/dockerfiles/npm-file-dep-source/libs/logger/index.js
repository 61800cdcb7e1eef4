module.exports = (msg) => console.log(JSON.stringify({ ts: Date.now(), msg }));
