// A real OpenID Connect provider for the catalog's tests (the certified `oidc-provider`), on
// loopback only. Configured from one JSON argument:
//
//   node provider.mjs '{"port": 0, "clients": [...], "users": {...}, "resources": {...}}'
//
// It listens on 127.0.0.1 (port 0: one the system picks) and prints one line,
// `listening <issuer>`, once it answers. Besides the protocol it serves test hooks, under
// /test/ only:
//   POST /test/clients            replace the registered clients (JSON body: {"clients": [...]})
//   POST /test/users/<login>      set a user's claims (JSON body): email, groups, ...
//   POST /test/rotate-keys        sign with a new key from now on; the old one stays published
//   POST /test/retire-old-keys    publish the current signing key alone
//
// Sign-in uses the provider's own development pages: any login with any password, whose claims
// are the `users` entry of that login (or an e-mail address made from the login).

import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] || '{}');
const users = config.users || {};
const resources = config.resources || {};
let keys = [newKey()];
let provider;

function newKey() {
  // The key is made as PEM text and read back before it is exported as a JWK: exporting the
  // key object that generateKeyPairSync returns can deadlock Node 20 when a garbage collection
  // frees the generation job in the middle of the export (both hold the key's lock).
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const jwk = createPrivateKey(privateKey).export({ format: 'jwk' });
  return { ...jwk, kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

function claimsOf(login) {
  const user = users[login] || {};
  return {
    email: user.email === undefined ? `${login}@example.test` : user.email,
    email_verified: user.email_verified === undefined ? true : user.email_verified,
    preferred_username: login,
    name: user.name || login,
    groups: user.groups || [],
  };
}

// The development sign-in pages make the login the account's `sub`.
function loginOf(sub) {
  return sub;
}

function build(issuer) {
  const configuration = {
    clients: config.clients || [],
    jwks: { keys },
    cookies: { keys: ['test-provider-cookie-key'] },
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => {
        const { email, ...rest } = claimsOf(loginOf(sub));
        return email === null ? { ...rest, sub } : { ...rest, email, sub };
      },
    }),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
    // Claims in the ID token too, as most providers send them.
    conformIdTokenClaims: false,
    // Every client is a first party: no consent page.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile groups offline_access');
      for (const resource of Object.keys(resources)) {
        grant.addResourceScope(resource, 'catalog');
      }
      await grant.save();
      return grant;
    },
    // A user's e-mail address and groups travel in the JWT access tokens too.
    extraTokenClaims: async (ctx, token) => {
      if (!token.accountId || token.kind !== 'AccessToken') return undefined;
      const { email, groups, preferred_username: username } = claimsOf(loginOf(token.accountId));
      return email === null ? { groups, preferred_username: username } : { email, groups };
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, indicator) => {
          const resource = resources[indicator];
          if (!resource) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'catalog',
            audience: resource.audience || indicator,
            accessTokenTTL: resource.ttl || 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    pkce: { required: () => true },
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, DeviceCode: 600 },
  };
  const built = new Provider(issuer, configuration);
  built.proxy = false;
  return built;
}

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

async function hook(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'POST' && url.pathname === '/test/clients') {
    config.clients = (await body(req)).clients;
    provider = build(provider.issuer);
  } else if (req.method === 'POST' && url.pathname.startsWith('/test/users/')) {
    const login = decodeURIComponent(url.pathname.slice('/test/users/'.length));
    users[login] = { ...(users[login] || {}), ...(await body(req)) };
  } else if (req.method === 'POST' && url.pathname === '/test/rotate-keys') {
    keys = [newKey(), ...keys];
    provider = build(provider.issuer);
  } else if (req.method === 'POST' && url.pathname === '/test/retire-old-keys') {
    keys = [keys[0]];
    provider = build(provider.issuer);
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kids: keys.map((k) => k.kid) }));
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/test/')) {
    hook(req, res).catch((err) => res.writeHead(500).end(String(err)));
    return;
  }
  provider.callback()(req, res);
});

server.listen(config.port || 0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = build(issuer);
  process.stdout.write(`listening ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
