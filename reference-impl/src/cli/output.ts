/** Small helpers for what the CLI prints. */

/**
 * Strips control characters (terminal escape sequences included) from text that came from the network — a user
 * code, a URL, an `error_description` — before it reaches the terminal, and caps its length.
 */
export function sanitize(text: string, max = 300): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** "in 59 min", "3 h 5 min ago", "in 45 s". */
export function relativeTime(deltaMs: number): string {
  const abs = Math.abs(deltaMs);
  const s = Math.round(abs / 1000);
  let text: string;
  if (s < 90) text = `${s} s`;
  else if (s < 5400) text = `${Math.round(s / 60)} min`;
  else if (s < 172800) text = `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  else text = `${Math.round(s / 86400)} days`;
  return deltaMs >= 0 ? `in ${text}` : `${text} ago`;
}
