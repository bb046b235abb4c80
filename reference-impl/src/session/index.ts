/** Sessions and tokens: the gateway as an OAuth authorization server to clients (see README.md in this folder). */
export * from './access-token.ts';
export * from './device-codes.ts';
export * from './kek.ts';
export * from './keys.ts';
export type { Principal } from './principal.ts';
export * from './revocation.ts';
export * from './sessions.ts';
