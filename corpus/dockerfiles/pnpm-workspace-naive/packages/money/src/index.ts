import Big from 'big.js';

export const cents = (x: number) => new Big(x).times(100).toNumber();
