/**
 * Which features a gateway declares: the `features` of its `GET /.well-known/ocg-configuration` (DISCOVERY-5).
 * The runner reads it leniently — whether the document is right is the `discovery/ocg-configuration` case's
 * business — and reports the features it does not list as `unsupported`.
 */
import { request } from 'undici';

/**
 * The declared feature ids, with `ocg-configuration` itself (the document was served), or undefined when the
 * gateway serves no usable document (then every feature of the selected profiles is assumed).
 */
export async function readDeclaredFeatures(baseUrl: string): Promise<string[] | undefined> {
  try {
    const res = await request(`${baseUrl}/.well-known/ocg-configuration`, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) return undefined;
    const doc = JSON.parse(text) as { features?: unknown };
    if (!Array.isArray(doc.features) || doc.features.some((f) => typeof f !== 'string')) return undefined;
    return [...new Set([...(doc.features as string[]), 'ocg-configuration'])];
  } catch {
    return undefined;
  }
}
