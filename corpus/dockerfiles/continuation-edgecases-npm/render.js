const express = require('express');

express().post('/render', (_q, r) => r.send('pdf')).listen(9000);
