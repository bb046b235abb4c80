/**
 * Paging of the admin lists, Anthropic style (`limit`, `after_id`; `{data, has_more, first_id, last_id}`), newest
 * first. The cursor is the id of the last row of the previous page; the order is `(created_at DESC, id DESC)`, so a
 * page is stable while rows are added.
 */
import { GatewayError } from '../errors.ts';

export const DEFAULT_ADMIN_PAGE_LIMIT = 20;
export const MAX_ADMIN_PAGE_LIMIT = 1000;

export interface Page<T extends { id: string }> {
  data: T[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

export interface PageRequest {
  limit: number;
  afterId: string | null;
}

/** `limit` and `after_id` from a query string, checked: 1..1000 (default 20); each given at most once. */
export function pageRequest(search: URLSearchParams): PageRequest {
  const limits = search.getAll('limit');
  const afters = search.getAll('after_id');
  if (limits.length > 1) throw new GatewayError('ERR_INVALID_REQUEST', 'limit may be given only once');
  if (afters.length > 1) throw new GatewayError('ERR_INVALID_REQUEST', 'after_id may be given only once');
  let limit = DEFAULT_ADMIN_PAGE_LIMIT;
  const raw = limits[0];
  if (raw !== undefined) {
    limit = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ADMIN_PAGE_LIMIT) {
      throw new GatewayError(
        'ERR_INVALID_REQUEST',
        `limit must be an integer from 1 to ${MAX_ADMIN_PAGE_LIMIT}`,
      );
    }
  }
  return { limit, afterId: afters[0] ?? null };
}

/** A page from `limit + 1` fetched rows (the extra row only says whether more exist). */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  return {
    data,
    has_more: rows.length > limit,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  };
}
