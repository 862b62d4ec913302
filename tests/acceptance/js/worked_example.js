// Coveo's official JavaScript client (@coveo/push-api-client) and the platform client it
// holds, unmodified, pointed at openpush: the identities and items of the Push API
// reference's worked example (§6.5), pushed the way a connector written in JavaScript would.
//
// Usage, with OPENPUSH_URL set to the server (redirect.js sends the client's calls there):
//   node --require ./redirect.js worked_example.js <org> <api key> example
//   node --require ./redirect.js worked_example.js <org> <api key> lifecycle <source id> <provider id>
// Each prints one JSON document on stdout: the ids used and the status of every call.
//
// `example` creates the source and provider, pushes the identities and the ten items.
// `lifecycle` goes on with what a connector does on its next full run: an identity batch
// through a file container (Eng gains erin, erin gets an alias), disabling the identities
// the run did not push again (dave's user), a source status REBUILD → IDLE around it, one item
// deleted and the items the run did not push again deleted as older.
'use strict';

const [, , ORG, API_KEY, COMMAND, ...ARGS] = process.argv;

const {
  PushSource,
  DocumentBuilder,
  PermissionSetBuilder,
  UserSecurityIdentityBuilder,
  GroupSecurityIdentityBuilder,
} = require('@coveo/push-api-client');

const calls = [];
async function call(name, promise) {
  const res = await promise;
  const status = res && typeof res.status === 'number' ? res.status : 'ok';
  calls.push({ name, status });
  return res;
}

const user = (name) => ({ name, type: 'USER', additionalInfo: {} });
const group = (name) => ({ name, type: 'GROUP', additionalInfo: {} });

function client() {
  const source = new PushSource(API_KEY, ORG, { maxRetries: 1, retryAfter: 100 });
  return { source, platform: source.platformClient };
}

async function example() {
  const { source, platform } = client();

  const { id: sourceId } = await source.create('js-worked-example', 'SECURED');
  calls.push({ name: 'source.create', status: sourceId ? 'ok' : 'no id' });

  const providerId = 'js-provider';
  await call(
    'securityCache.createOrUpdateProvider',
    platform.securityCache.createOrUpdateProvider({
      id: providerId,
      name: providerId,
      type: 'EXPANDED',
      nodeRequired: false,
      referencedBy: [{ id: sourceId, type: 'SOURCE' }],
      cascadingSecurityProviders: {
        'Email Security Provider': { id: 'Email Security Provider', type: 'EMAIL' },
      },
    }),
  );

  const identity = source.identity;
  await call(
    'identity.createSecurityIdentity Eng',
    identity.createSecurityIdentity(providerId, {
      identity: group('Eng'),
      members: [user('alice'), user('bob')],
      wellKnowns: [],
    }),
  );
  await call(
    'identity.createSecurityIdentity Mgmt',
    identity.createSecurityIdentity(providerId, {
      identity: group('Mgmt'),
      members: [user('carol'), group('Eng')],
      wellKnowns: [],
    }),
  );
  await call(
    'identity.createSecurityIdentity alice',
    identity.createSecurityIdentity(providerId, {
      identity: user('alice'),
      members: [],
      wellKnowns: [group('Everyone')],
    }),
  );
  for (const name of ['alice', 'bob', 'carol', 'dave']) {
    await call(
      `identity.createOrUpdateSecurityIdentityAlias ${name}`,
      identity.createOrUpdateSecurityIdentityAlias(providerId, {
        identity: user(name),
        mappings: [{ ...user(`${name}@corp.com`), provider: 'Email Security Provider' }],
        wellKnowns: [],
      }),
    );
  }
  // An identity pushed and then disabled: it must grant nothing.
  await call(
    'identity.createSecurityIdentity Retired',
    identity.createSecurityIdentity(providerId, {
      identity: group('Retired'),
      members: [user('dave')],
      wellKnowns: [],
    }),
  );
  await call(
    'identity.deleteSecurityIdentity Retired',
    identity.deleteSecurityIdentity(providerId, { identity: group('Retired') }),
  );

  const groupIn = (names) => new GroupSecurityIdentityBuilder(names, providerId);
  const userIn = (names) => new UserSecurityIdentityBuilder(names, providerId);
  const set = (allowAnonymous = false) => new PermissionSetBuilder(allowAnonymous);
  const doc = (n) => new DocumentBuilder(`https://js.example.com/${n}`, `worked example ${n}`)
    .withData(`openpushjs row${n}`);
  const items = [
    doc(1).withPermissionSet(set().withAllowedPermissions(groupIn('Eng'))),
    doc(2).withPermissionSet(
      set().withAllowedPermissions(groupIn('Mgmt')).withDeniedPermissions(userIn('bob')),
    ),
    doc(3)
      .withPermissionSet(set().withAllowedPermissions(groupIn('Mgmt')))
      .withPermissionSet(set().withAllowedPermissions(groupIn('Eng'))),
    doc(4).withPermissionSet(set(true)),
    doc(5).withPermissionSet(set(true)).withPermissionSet(set().withAllowedPermissions(groupIn('Eng'))),
    doc(6).withPermissionSet(set(true).withDeniedPermissions(userIn('bob'))),
    doc(7)
      .withPermissionLevel('L1', [set().withDeniedPermissions(groupIn('Eng'))])
      .withPermissionLevel('L2', [set().withAllowedPermissions(groupIn('Mgmt'))]),
    doc(8)
      .withPermissionLevel('L1', [set().withAllowedPermissions(userIn('carol'))])
      .withPermissionLevel('L2', [set().withDeniedPermissions(groupIn('Mgmt'))]),
    doc(9)
      .withPermissionLevel('L1', [set().withAllowedPermissions(groupIn('Everyone'))])
      .withPermissionLevel('L2', [set().withAllowedPermissions(userIn('dave'))]),
    doc(10).withPermissionSet(set().withAllowedPermissions(groupIn('Retired'))),
  ];
  await call('source.addOrUpdateDocument 1', source.addOrUpdateDocument(sourceId, items[0], { createFields: false }));
  await call(
    'source.batchUpdateDocuments 2-10',
    source.batchUpdateDocuments(sourceId, { addOrUpdate: items.slice(1), delete: [] }, { createFields: false }),
  );

  const entities = await platform.securityCache.listEntities(providerId, { page: 0, perPage: 100 });
  const members = await platform.securityCache.listChildren(
    providerId,
    { name: 'Mgmt', provider: providerId, type: 'GROUP', infos: [] },
    { recursive: true },
  );
  const parents = await platform.securityCache.listParents(
    providerId,
    { name: 'alice', provider: providerId, type: 'USER', infos: [] },
    { recursive: true },
  );
  // the rest of the platform client's security cache calls: each must answer
  const alice = { name: 'alice', provider: providerId, type: 'USER', infos: [] };
  const cache = platform.securityCache;
  await call('securityCache.getProvider', cache.getProvider(providerId));
  await call('securityCache.listProviders', cache.listProviders());
  await call('securityCache.getProviderEntity', cache.getProviderEntity(providerId, alice));
  await call(
    'securityCache.listSecurityProviderIdentities',
    cache.listSecurityProviderIdentities(providerId, { page: 0, perPage: 10 }),
  );
  await call('securityCache.listMembers', cache.listMembers(providerId, { page: 0, perPage: 10 }));
  await call('securityCache.getStatus', cache.getStatus());
  await call('securityCache.listSchedules', cache.listSchedules());
  await call('securityCache.getSchedules', cache.getSchedules(providerId));
  await call('securityCache.refreshProvider', cache.refreshProvider(providerId));
  await call('securityCache.refreshIdentity', cache.refreshIdentity(alice));
  await call('securityCache.cancelRefresh', cache.cancelRefresh(providerId));
  process.stdout.write(
    JSON.stringify({ sourceId, providerId, calls, entities, members, parents }) + '\n',
  );
}

async function lifecycle(sourceId, providerId) {
  const { source, platform } = client();
  await call('source.setSourceStatus REBUILD', source.setSourceStatus(sourceId, 'REBUILD'));
  const runOrderingId = Date.now();
  // Wait a millisecond so that pushes of this run are strictly newer than runOrderingId.
  await new Promise((resolve) => setTimeout(resolve, 5));

  const container = await platform.pushApi.createFileContainer();
  calls.push({ name: 'pushApi.createFileContainer', status: container.fileId ? 'ok' : 'no fileId' });
  const batch = {
    members: [
      { identity: group('Eng'), members: [user('alice'), user('bob'), user('erin')], wellKnowns: [] },
      { identity: group('Mgmt'), members: [user('carol'), group('Eng')], wellKnowns: [] },
      { identity: user('alice'), members: [], wellKnowns: [group('Everyone')] },
    ],
    mappings: ['alice', 'bob', 'carol', 'erin'].map((name) => ({
      identity: user(name),
      mappings: [{ ...user(`${name}@corp.com`), provider: 'Email Security Provider' }],
      wellKnowns: [],
    })),
    deleted: [],
  };
  const upload = await fetch(container.uploadUri, {
    method: 'PUT',
    headers: container.requiredHeaders,
    body: JSON.stringify(batch),
  });
  calls.push({ name: 'PUT uploadUri', status: upload.status });
  await call(
    'identity.manageSecurityIdentities',
    source.identity.manageSecurityIdentities(providerId, { fileId: container.fileId }),
  );
  await call(
    'identity.deleteOldSecurityIdentities',
    source.identity.deleteOldSecurityIdentities(providerId, { orderingId: runOrderingId, queueDelay: 0 }),
  );

  await call('source.deleteDocument 2', source.deleteDocument(sourceId, 'https://js.example.com/2'));
  const refreshed = new DocumentBuilder('https://js.example.com/1', 'worked example 1')
    .withData('openpushjs row1 again')
    .withPermissionSet(
      new PermissionSetBuilder(false).withAllowedPermissions(
        new GroupSecurityIdentityBuilder('Eng', providerId),
      ),
    );
  await call(
    'source.addOrUpdateDocument 1',
    source.addOrUpdateDocument(sourceId, refreshed, { createFields: false }),
  );
  await call(
    'source.deleteDocumentsOlderThan',
    source.deleteDocumentsOlderThan(sourceId, runOrderingId),
  );
  await call('source.setSourceStatus IDLE', source.setSourceStatus(sourceId, 'IDLE'));
  process.stdout.write(JSON.stringify({ sourceId, providerId, runOrderingId, calls }) + '\n');
}

const COMMANDS = { example, lifecycle };

if (!(COMMAND in COMMANDS)) {
  process.stderr.write(`unknown command ${COMMAND}: expected one of ${Object.keys(COMMANDS)}\n`);
  process.exit(2);
}
COMMANDS[COMMAND](...ARGS).catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  if (err && typeof err === 'object') process.stderr.write(`${JSON.stringify(err)}\n`);
  process.exit(1);
});
