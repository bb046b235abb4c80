/**
 * MODELS-* and the allowlist of POLICY-*: catalogue and aliases, allowed models, every allowlist refusal (400
 * invalid_request_error naming the rule) and /v1/models paging.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../src/errors.ts';
import type { ModelConfig } from '../src/policy/config.ts';
import {
  allowedModels,
  checkModelAllowed,
  createModelCatalogue,
  type ListModelsOptions,
  listModelsPage,
  type ModelPolicy,
  type ModelsPage,
} from '../src/policy/models.ts';

const OPUS = 'claude-opus-4-5-20251101';
const SONNET = 'claude-sonnet-4-5-20250929';
const HAIKU = 'claude-haiku-4-5-20251001';
const SONNET46 = 'claude-sonnet-4-6';
const OPUS46 = 'claude-opus-4-6';

const MODELS: ModelConfig[] = [
  { id: OPUS, displayName: 'Claude Opus 4.5', aliases: ['claude-opus-4-5'] },
  {
    id: SONNET,
    displayName: 'Claude Sonnet 4.5',
    aliases: ['claude-sonnet-4-5', 'sonnet'],
    createdAt: '2025-09-29T12:00:00Z',
  },
  { id: HAIKU, displayName: 'Claude Haiku 4.5', aliases: ['claude-haiku-4-5'] },
  { id: SONNET46, displayName: 'Claude Sonnet 4.6' },
  { id: OPUS46, displayName: 'Claude Opus 4.6' },
];
const catalogue = createModelCatalogue(MODELS);

function gatewayError(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

describe('createModelCatalogue', () => {
  const RESOLVE: [string, { given: string; want: string | null }][] = [
    ['canonical id', { given: SONNET, want: SONNET }],
    ['alias', { given: 'claude-sonnet-4-5', want: SONNET }],
    ['second alias', { given: 'sonnet', want: SONNET }],
    ['id without aliases', { given: SONNET46, want: SONNET46 }],
    ['unknown', { given: 'gpt-4o', want: null }],
    ['case matters', { given: 'Claude-Sonnet-4-5', want: null }],
    ['the allowlist wildcard is not a model', { given: '*', want: null }],
    ['prototype names are not models', { given: 'constructor', want: null }],
  ];
  it.each(RESOLVE)('resolve: %s', (_name, { given, want }) => {
    expect(catalogue.resolve(given)).toBe(want);
  });

  it('get resolves aliases and fills createdAt (explicit, from the id date, else the epoch)', () => {
    expect(catalogue.get('claude-opus-4-5')).toEqual({
      id: OPUS,
      displayName: 'Claude Opus 4.5',
      aliases: ['claude-opus-4-5'],
      createdAt: '2025-11-01T00:00:00Z',
    });
    expect(catalogue.get(SONNET)?.createdAt).toBe('2025-09-29T12:00:00Z');
    expect(catalogue.get(SONNET46)?.createdAt).toBe('1970-01-01T00:00:00Z');
    expect(catalogue.get('nope')).toBeNull();
  });

  it('list keeps config order', () => {
    expect(catalogue.list().map((m) => m.id)).toEqual([OPUS, SONNET, HAIKU, SONNET46, OPUS46]);
  });

  it('refuses duplicate ids or aliases with ERR_CONFIG_INVALID naming both places', () => {
    const err = gatewayError(() =>
      createModelCatalogue([...MODELS, { id: 'claude-x', displayName: 'X', aliases: ['sonnet'] }]),
    );
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    expect(err.details).toEqual([
      "/models/5/aliases/0: 'sonnet' is already used at /models/1/aliases/1 (model ids and aliases must be unique)",
    ]);
  });
});

describe('allowedModels', () => {
  const CASES: [string, { given: string[] | null; want: string[] }][] = [
    ['no policy → nothing', { given: null, want: [] }],
    ['empty allowlist → nothing', { given: [], want: [] }],
    [
      "'*' → the whole catalogue, in catalogue order",
      { given: ['*'], want: [OPUS, SONNET, HAIKU, SONNET46, OPUS46] },
    ],
    [
      "'*' with other entries → still the whole catalogue",
      { given: [HAIKU, '*'], want: [OPUS, SONNET, HAIKU, SONNET46, OPUS46] },
    ],
    ['alias → canonical id', { given: ['claude-sonnet-4-5'], want: [SONNET] }],
    [
      'catalogue order, not allowlist order',
      { given: [SONNET46, 'claude-haiku-4-5', OPUS], want: [OPUS, HAIKU, SONNET46] },
    ],
    ['an id and its alias count once', { given: [SONNET, 'sonnet', 'claude-sonnet-4-5'], want: [SONNET] }],
    ['unknown entries (refused at boot) allow nothing', { given: ['gpt-4o', HAIKU], want: [HAIKU] }],
  ];
  it.each(CASES)('%s', (_name, { given, want }) => {
    const policy = given === null ? null : { name: 'p', models: given };
    expect(allowedModels(catalogue, policy)).toEqual(want);
  });
});

describe('checkModelAllowed', () => {
  const ENG: ModelPolicy = { name: 'eng', models: ['claude-sonnet-4-5', HAIKU] };
  const ALL: ModelPolicy = { name: 'all', models: ['*'] };
  const NONE: ModelPolicy = { name: 'settings-only', models: [] };

  const ALLOWED: [string, { given: { policy: ModelPolicy; model: string }; want: string }][] = [
    ['canonical id in the allowlist', { given: { policy: ENG, model: HAIKU }, want: HAIKU }],
    ['alias of an allowed id', { given: { policy: ENG, model: 'claude-haiku-4-5' }, want: HAIKU }],
    ['canonical id allowed through its alias', { given: { policy: ENG, model: SONNET }, want: SONNET }],
    [
      'another alias of a model allowed through an alias',
      { given: { policy: ENG, model: 'sonnet' }, want: SONNET },
    ],
    ["anything in the catalogue under '*'", { given: { policy: ALL, model: OPUS46 }, want: OPUS46 }],
  ];
  it.each(ALLOWED)('allows: %s', (_name, { given, want }) => {
    expect(checkModelAllowed(catalogue, given.policy, given.model)).toBe(want);
  });

  const long = `claude-${'x'.repeat(300)}`;
  const REFUSED: [
    string,
    { given: { policy: ModelPolicy | null; model: unknown }; want: { code: string; message: string } },
  ][] = [
    [
      'missing model',
      {
        given: { policy: ENG, model: undefined },
        want: { code: 'ERR_MODEL_REQUIRED', message: 'model is required' },
      },
    ],
    [
      'empty model',
      {
        given: { policy: ENG, model: '' },
        want: { code: 'ERR_MODEL_REQUIRED', message: 'model is required' },
      },
    ],
    [
      'non-string model',
      {
        given: { policy: ENG, model: 42 },
        want: { code: 'ERR_MODEL_REQUIRED', message: 'model is required (a string model id)' },
      },
    ],
    [
      'null model',
      {
        given: { policy: ENG, model: null },
        want: { code: 'ERR_MODEL_REQUIRED', message: 'model is required (a string model id)' },
      },
    ],
    [
      'missing model without a policy: the request is checked first',
      {
        given: { policy: null, model: undefined },
        want: { code: 'ERR_MODEL_REQUIRED', message: 'model is required' },
      },
    ],
    [
      'no policy',
      {
        given: { policy: null, model: SONNET },
        want: { code: 'ERR_NO_POLICY', message: 'no policy grants you any model' },
      },
    ],
    [
      'unknown model',
      {
        given: { policy: ENG, model: 'gpt-4o' },
        want: { code: 'ERR_MODEL_UNKNOWN', message: "model 'gpt-4o' is not offered by this gateway" },
      },
    ],
    [
      "unknown model under '*'",
      {
        given: { policy: ALL, model: 'claude-3-opus' },
        want: { code: 'ERR_MODEL_UNKNOWN', message: "model 'claude-3-opus' is not offered by this gateway" },
      },
    ],
    [
      'a very long unknown name is cut in the message',
      {
        given: { policy: ENG, model: long },
        want: {
          code: 'ERR_MODEL_UNKNOWN',
          message: `model '${long.slice(0, 128)}…' is not offered by this gateway`,
        },
      },
    ],
    [
      'denied model (by canonical id)',
      {
        given: { policy: ENG, model: OPUS },
        want: {
          code: 'ERR_MODEL_DENIED',
          message: `model '${OPUS}' is not allowed by policy 'eng' (allowed: ${SONNET}, ${HAIKU})`,
        },
      },
    ],
    [
      'denied model (by alias): the message echoes what was sent',
      {
        given: { policy: ENG, model: 'claude-opus-4-5' },
        want: {
          code: 'ERR_MODEL_DENIED',
          message: `model 'claude-opus-4-5' is not allowed by policy 'eng' (allowed: ${SONNET}, ${HAIKU})`,
        },
      },
    ],
    [
      'empty allowlist',
      {
        given: { policy: NONE, model: SONNET },
        want: {
          code: 'ERR_MODEL_DENIED',
          message: `model '${SONNET}' is not allowed by policy 'settings-only' (allowed: none)`,
        },
      },
    ],
  ];
  it.each(REFUSED)('refuses: %s', (_name, { given, want }) => {
    const err = gatewayError(() => checkModelAllowed(catalogue, given.policy, given.model));
    expect({ code: err.code, message: err.message, status: err.status, type: err.type }).toEqual({
      ...want,
      status: 400,
      type: 'invalid_request_error',
    });
  });
});

describe('listModelsPage', () => {
  const ALL_IDS = [OPUS, SONNET, HAIKU, SONNET46, OPUS46];
  const ids = (page: ModelsPage) => page.data.map((m) => m.id);
  const summary = (page: ModelsPage) => ({
    ids: ids(page),
    has_more: page.has_more,
    first_id: page.first_id,
    last_id: page.last_id,
  });

  it('lists Anthropic-style entries with canonical ids only', () => {
    const page = listModelsPage(catalogue, [SONNET]);
    expect(page).toEqual({
      data: [
        { type: 'model', id: SONNET, display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T12:00:00Z' },
      ],
      has_more: false,
      first_id: SONNET,
      last_id: SONNET,
    });
  });

  type Want = { ids: string[]; has_more: boolean; first_id: string | null; last_id: string | null };
  const PAGES: [string, { given: { allowed: string[]; options?: ListModelsOptions }; want: Want }][] = [
    [
      'default limit, everything fits',
      {
        given: { allowed: ALL_IDS },
        want: { ids: ALL_IDS, has_more: false, first_id: OPUS, last_id: OPUS46 },
      },
    ],
    [
      'nothing allowed → empty page',
      { given: { allowed: [] }, want: { ids: [], has_more: false, first_id: null, last_id: null } },
    ],
    [
      'filtered to the allowed ids, in catalogue order; aliases in the allowed list resolve',
      {
        given: { allowed: [OPUS46, 'claude-haiku-4-5'] },
        want: { ids: [HAIKU, OPUS46], has_more: false, first_id: HAIKU, last_id: OPUS46 },
      },
    ],
    [
      'first page',
      {
        given: { allowed: ALL_IDS, options: { limit: 2 } },
        want: { ids: [OPUS, SONNET], has_more: true, first_id: OPUS, last_id: SONNET },
      },
    ],
    [
      'limit as a query-string value',
      {
        given: { allowed: ALL_IDS, options: { limit: '2' } },
        want: { ids: [OPUS, SONNET], has_more: true, first_id: OPUS, last_id: SONNET },
      },
    ],
    [
      'after_id: next page (exclusive)',
      {
        given: { allowed: ALL_IDS, options: { limit: 2, afterId: SONNET } },
        want: { ids: [HAIKU, SONNET46], has_more: true, first_id: HAIKU, last_id: SONNET46 },
      },
    ],
    [
      'after_id: last partial page',
      {
        given: { allowed: ALL_IDS, options: { limit: 2, afterId: SONNET46 } },
        want: { ids: [OPUS46], has_more: false, first_id: OPUS46, last_id: OPUS46 },
      },
    ],
    [
      'after_id: page ends exactly at the end → has_more false',
      {
        given: { allowed: ALL_IDS, options: { limit: 2, afterId: HAIKU } },
        want: { ids: [SONNET46, OPUS46], has_more: false, first_id: SONNET46, last_id: OPUS46 },
      },
    ],
    [
      'after_id: the last id → empty page',
      {
        given: { allowed: ALL_IDS, options: { afterId: OPUS46 } },
        want: { ids: [], has_more: false, first_id: null, last_id: null },
      },
    ],
    [
      'after_id given as an alias',
      {
        given: { allowed: ALL_IDS, options: { limit: 1, afterId: 'sonnet' } },
        want: { ids: [HAIKU], has_more: true, first_id: HAIKU, last_id: HAIKU },
      },
    ],
    [
      'before_id: previous page (exclusive), has_more looks backwards',
      {
        given: { allowed: ALL_IDS, options: { limit: 2, beforeId: OPUS46 } },
        want: { ids: [HAIKU, SONNET46], has_more: true, first_id: HAIKU, last_id: SONNET46 },
      },
    ],
    [
      'before_id: reaches the start → has_more false',
      {
        given: { allowed: ALL_IDS, options: { limit: 2, beforeId: HAIKU } },
        want: { ids: [OPUS, SONNET], has_more: false, first_id: OPUS, last_id: SONNET },
      },
    ],
    [
      'before_id: fewer than limit before it',
      {
        given: { allowed: ALL_IDS, options: { limit: 3, beforeId: SONNET } },
        want: { ids: [OPUS], has_more: false, first_id: OPUS, last_id: OPUS },
      },
    ],
    [
      'before_id: the first id → empty page',
      {
        given: { allowed: ALL_IDS, options: { beforeId: OPUS } },
        want: { ids: [], has_more: false, first_id: null, last_id: null },
      },
    ],
    [
      'before_id given as an alias',
      {
        given: { allowed: ALL_IDS, options: { limit: 1, beforeId: 'claude-haiku-4-5' } },
        want: { ids: [SONNET], has_more: true, first_id: SONNET, last_id: SONNET },
      },
    ],
    [
      'limit 1',
      {
        given: { allowed: ALL_IDS, options: { limit: 1 } },
        want: { ids: [OPUS], has_more: true, first_id: OPUS, last_id: OPUS },
      },
    ],
    [
      'limit 1000',
      {
        given: { allowed: ALL_IDS, options: { limit: '1000' } },
        want: { ids: ALL_IDS, has_more: false, first_id: OPUS, last_id: OPUS46 },
      },
    ],
    [
      'limit equal to the list size',
      {
        given: { allowed: ALL_IDS, options: { limit: 5 } },
        want: { ids: ALL_IDS, has_more: false, first_id: OPUS, last_id: OPUS46 },
      },
    ],
  ];
  it.each(PAGES)('%s', (_name, { given, want }) => {
    expect(summary(listModelsPage(catalogue, given.allowed, given.options))).toEqual(want);
  });

  it('pages forward through the whole list with after_id = last_id', () => {
    const seen: string[] = [];
    let page = listModelsPage(catalogue, ALL_IDS, { limit: 2 });
    seen.push(...ids(page));
    while (page.has_more && page.last_id !== null) {
      page = listModelsPage(catalogue, ALL_IDS, { limit: 2, afterId: page.last_id });
      seen.push(...ids(page));
    }
    expect(seen).toEqual(ALL_IDS);
  });

  const INVALID: [string, { given: { allowed: string[]; options: ListModelsOptions }; want: string }][] = [
    [
      'limit 0',
      { given: { allowed: ALL_IDS, options: { limit: 0 } }, want: 'limit must be an integer from 1 to 1000' },
    ],
    [
      'limit 1001',
      {
        given: { allowed: ALL_IDS, options: { limit: 1001 } },
        want: 'limit must be an integer from 1 to 1000',
      },
    ],
    [
      'limit -1',
      {
        given: { allowed: ALL_IDS, options: { limit: '-1' } },
        want: 'limit must be an integer from 1 to 1000',
      },
    ],
    [
      'limit 1.5',
      {
        given: { allowed: ALL_IDS, options: { limit: 1.5 } },
        want: 'limit must be an integer from 1 to 1000',
      },
    ],
    [
      "limit '1.5'",
      {
        given: { allowed: ALL_IDS, options: { limit: '1.5' } },
        want: 'limit must be an integer from 1 to 1000',
      },
    ],
    [
      "limit 'abc'",
      {
        given: { allowed: ALL_IDS, options: { limit: 'abc' } },
        want: 'limit must be an integer from 1 to 1000',
      },
    ],
    [
      "limit ''",
      {
        given: { allowed: ALL_IDS, options: { limit: '' } },
        want: 'limit must be an integer from 1 to 1000',
      },
    ],
    [
      "limit ' 5'",
      {
        given: { allowed: ALL_IDS, options: { limit: ' 5' } },
        want: 'limit must be an integer from 1 to 1000',
      },
    ],
    [
      'after_id unknown',
      {
        given: { allowed: ALL_IDS, options: { afterId: 'gpt-4o' } },
        want: "after_id 'gpt-4o' is not a model in this list",
      },
    ],
    [
      'after_id in the catalogue but not in the caller list',
      {
        given: { allowed: [SONNET], options: { afterId: OPUS } },
        want: `after_id '${OPUS}' is not a model in this list`,
      },
    ],
    [
      'before_id unknown',
      {
        given: { allowed: ALL_IDS, options: { beforeId: 'nope' } },
        want: "before_id 'nope' is not a model in this list",
      },
    ],
    [
      'empty before_id',
      {
        given: { allowed: ALL_IDS, options: { beforeId: '' } },
        want: "before_id '' is not a model in this list",
      },
    ],
    [
      'after_id and before_id together',
      {
        given: { allowed: ALL_IDS, options: { afterId: OPUS, beforeId: OPUS46 } },
        want: 'after_id and before_id cannot be used together',
      },
    ],
  ];
  it.each(INVALID)('400: %s', (_name, { given, want }) => {
    const err = gatewayError(() => listModelsPage(catalogue, given.allowed, given.options));
    expect({ code: err.code, status: err.status, type: err.type, message: err.message }).toEqual({
      code: 'ERR_INVALID_REQUEST',
      status: 400,
      type: 'invalid_request_error',
      message: want,
    });
  });
});
