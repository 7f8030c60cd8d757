// An independent, certified OIDC provider (panva/oidc-provider) for the SIP service's interop tests.
// Started by tests/interop/ and by the local stack (deploy/local/) on a loopback port; prints {"issuer": ...} on stdout once it listens.
// Environment: OIDC_PORT (by default a free one), REDIRECT_URI, CLIENT_ID, CLIENT_SECRET, AUDIENCE (of JWT
// access tokens), DEMO_IDENTITIES
// (auth/demo-identities.json: the fixed test accounts), HSA_CLAIM / PNR_CLAIM (claim names to send).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const env = process.env;
const HSA = env.HSA_CLAIM || 'hsa_id';
const PNR = env.PNR_CLAIM || 'personal_number';
const API = 'urn:sip-service:api';

const demo = JSON.parse(readFileSync(env.DEMO_IDENTITIES, 'utf8'));
const accounts = new Map();
for (const s of demo.staff) {
  accounts.set(s.sub, { name: s.name, [HSA]: s.hsa_id, organisation_hsa_id: s.organisation_hsa_id, sip_roles: s.roles ?? [] });
}
for (const c of demo.citizens) accounts.set(c.sub, { name: c.name, [PNR]: c.personal_number });

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', use: 'sig', alg: 'RS256' };

const server = http.createServer();
server.listen(Number(env.OIDC_PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: env.CLIENT_ID,
      client_secret: env.CLIENT_SECRET,
      redirect_uris: [env.REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true }, // for this confidential client too
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'profile', 'sip', 'api'],
    claims: { openid: ['sub'], profile: ['name'], sip: [HSA, PNR, 'organisation_hsa_id', 'sip_roles'] },
    conformIdTokenClaims: false, // the granted claims go in the ID token, where the service reads them
    features: {
      devInteractions: { enabled: true }, // a plain login form (any password) and a consent form
      resourceIndicators: {
        enabled: true,
        // Access tokens are JWTs for the service's API (audience AUDIENCE), as a bearer client gets.
        defaultResource: () => API,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== API) throw new errors.InvalidTarget();
          return { scope: 'api', audience: env.AUDIENCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    extraTokenClaims: (_ctx, token) => accounts.get(token.accountId),
    findAccount: (_ctx, sub) => {
      const account = accounts.get(sub);
      return account && { accountId: sub, claims: () => ({ sub, ...account }) };
    },
  });
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
