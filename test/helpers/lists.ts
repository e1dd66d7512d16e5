/**
 * The [auth] lists the client-facing prefix tests share: `allowed` may read and publish, every other
 * authenticated key is refused (restricted:), and `refusedAuthor` (if given) may not author events (blocked:).
 */
export function listsToml(allowed: string, refusedAuthor?: string): string {
  return `
[auth]
enabled = true
[auth.req]
pubkey_whitelist = ["${allowed}"]
[auth.event]
pubkey_whitelist = ["${allowed}"]
${refusedAuthor ? `event_pubkey_blacklist = ["${refusedAuthor}"]` : ''}
`;
}
