export type { Random } from './random';
export { hashSeed, hashString, mix32, mulberry32, permutation, randomInt, shuffleInPlace, uniform, uniformArray } from './random';
