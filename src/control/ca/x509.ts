/**
 * The one place that loads @peculiar/x509, configured for Node: its dependency injection (tsyringe) needs
 * the Reflect metadata polyfill loaded first, and it must be told to use Node's webcrypto. Everything in
 * the CA imports the library from here so neither step can be forgotten. Only the control plane loads it;
 * the proxy's side of the protocol (src/api/ca) uses node:crypto alone.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
