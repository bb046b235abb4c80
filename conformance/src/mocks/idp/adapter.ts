/**
 * A per-instance in-memory storage adapter for oidc-provider (its built-in memory adapter keeps one store for the
 * whole process and warns on every start). Expiry is honoured on read; grant members are indexed so that
 * `revokeByGrantId` destroys every token of a grant, as the provider expects.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt: number;
}

/** Everything one mock IdP stores, shared by the adapters of all its models. */
export class IdpStore {
  readonly entries = new Map<string, Entry>();
  readonly grantMembers = new Map<string, Set<string>>();
  readonly sessionsByUid = new Map<string, string>();
  readonly userCodes = new Map<string, string>();

  get(key: string): AdapterPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  /** Every stored payload of `model` (expired ones left out). */
  all(model: string): AdapterPayload[] {
    const out: AdapterPayload[] = [];
    for (const key of this.entries.keys()) {
      if (!key.startsWith(`${model}:`)) continue;
      const payload = this.get(key);
      if (payload) out.push(payload);
    }
    return out;
  }

  clear(): void {
    this.entries.clear();
    this.grantMembers.clear();
    this.sessionsByUid.clear();
    this.userCodes.clear();
  }
}

/** Builds the adapter class oidc-provider instantiates once per model name. */
export function createAdapterClass(store: IdpStore): new (model: string) => Adapter {
  return class MockIdpAdapter implements Adapter {
    readonly model: string;

    constructor(model: string) {
      this.model = model;
    }

    key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const key = this.key(id);
      const expiresAt =
        typeof expiresIn === 'number' && expiresIn > 0 ? Date.now() + expiresIn * 1000 : Infinity;
      store.entries.set(key, { payload: structuredClone(payload), expiresAt });
      if (this.model === 'Session' && typeof payload.uid === 'string')
        store.sessionsByUid.set(payload.uid, id);
      if (typeof payload.grantId === 'string') {
        let members = store.grantMembers.get(payload.grantId);
        if (!members) {
          members = new Set();
          store.grantMembers.set(payload.grantId, members);
        }
        members.add(key);
      }
      if (typeof payload.userCode === 'string') store.userCodes.set(payload.userCode, id);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const payload = store.get(this.key(id));
      return payload === undefined ? undefined : structuredClone(payload);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = store.sessionsByUid.get(uid);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = store.userCodes.get(userCode);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id: string): Promise<void> {
      const entry = store.entries.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      store.entries.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const members = store.grantMembers.get(grantId);
      if (!members) return;
      for (const key of members) store.entries.delete(key);
      store.grantMembers.delete(grantId);
    }
  };
}
