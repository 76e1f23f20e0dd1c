// The authorization matrix, one table for two tests: the core's unit matrix (`authz::tests::matrix`,
// which asks `authorize` directly) and the server's walk against a running server
// (crates/confab-server/tests/authz_matrix.rs, on the native protocol, Socket.IO and HTTP). Each
// `include!`s this expression with its own `Act`, `Row` and `Want` (`Yes`, `HIDDEN`, `FORBIDDEN`,
// `ANON`, `NOT_JOINED`) in scope. One row per action: the answers in a public, a private and a direct
// room, a column each: anonymous, guest, non-member, member, author, moderator, owner, banned,
// administrator, API token, webhook (see either test for what each column's actor has done first).
// Not a module: no `mod` names it, and rustfmt leaves it as written.
&[
    //                 anon  guest  non-m  member author  mod  owner  banned  admin  token  webhook
    (Act::List,       [Yes,  Yes,   Yes,   Yes,   Yes,   Yes,  Yes,   Yes,    Yes,   Yes,   Yes],
                      [HIDDEN, Yes, HIDDEN, Yes,  Yes,   Yes,  Yes,   HIDDEN, HIDDEN, Yes,  Yes],
                      [HIDDEN, HIDDEN, HIDDEN, Yes, Yes, Yes, Yes, HIDDEN, HIDDEN, Yes, HIDDEN]),
    (Act::History,    [ANON, Yes,   Yes,   Yes,   Yes,   Yes,  Yes,   FORBIDDEN, Yes, Yes,  FORBIDDEN],
                      [ANON, Yes,   HIDDEN, Yes,  Yes,   Yes,  Yes,   HIDDEN, HIDDEN, Yes,  FORBIDDEN],
                      [ANON, HIDDEN, HIDDEN, Yes, Yes, Yes, Yes, HIDDEN, HIDDEN, Yes, HIDDEN]),
    (Act::Join,       [ANON, Yes,   Yes,   Yes,   Yes,   Yes,  Yes,   FORBIDDEN, Yes, Yes,  FORBIDDEN],
                      [ANON, Yes,   HIDDEN, Yes,  Yes,   Yes,  Yes,   HIDDEN, HIDDEN, Yes,  FORBIDDEN],
                      [ANON, HIDDEN, HIDDEN, Yes, Yes, Yes, Yes, HIDDEN, HIDDEN, Yes, HIDDEN]),
    (Act::Send,       [ANON, Yes,   NOT_JOINED, Yes,   Yes,   Yes,  Yes,   FORBIDDEN, Yes, Yes,  Yes],
                      [ANON, Yes,   HIDDEN, Yes,  Yes,   Yes,  Yes,   HIDDEN, HIDDEN, Yes,  Yes],
                      [ANON, HIDDEN, HIDDEN, Yes, Yes, Yes, Yes, HIDDEN, HIDDEN, Yes, HIDDEN]),
    (Act::Edit,       [ANON, FORBIDDEN, NOT_JOINED, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
                      [ANON, FORBIDDEN, HIDDEN, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN],
                      [ANON, HIDDEN, HIDDEN, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, FORBIDDEN, HIDDEN]),
    (Act::Delete,     [ANON, FORBIDDEN, NOT_JOINED, FORBIDDEN, Yes, Yes, Yes, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN],
                      [ANON, FORBIDDEN, HIDDEN, FORBIDDEN, Yes, Yes, Yes, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN],
                      [ANON, HIDDEN, HIDDEN, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, FORBIDDEN, HIDDEN]),
    (Act::Invite,     [ANON, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, Yes, Yes, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN],
                      [ANON, FORBIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, Yes, Yes, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN],
                      [ANON, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, FORBIDDEN, HIDDEN]),
    (Act::Kick,       [ANON, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, Yes, Yes, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN],
                      [ANON, FORBIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, Yes, Yes, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN],
                      [ANON, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, FORBIDDEN, HIDDEN]),
    (Act::Ban,        [ANON, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, Yes, Yes, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN],
                      [ANON, FORBIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, Yes, Yes, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN],
                      [ANON, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, FORBIDDEN, HIDDEN]),
    (Act::ChangeRole, [ANON, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN],
                      [ANON, FORBIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, Yes, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN],
                      [ANON, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, FORBIDDEN, HIDDEN]),
    (Act::CreateWebhook, [ANON, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, Yes, Yes, FORBIDDEN, Yes, FORBIDDEN, FORBIDDEN],
                      [ANON, FORBIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, Yes, Yes, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN],
                      [ANON, HIDDEN, HIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, HIDDEN, HIDDEN, FORBIDDEN, HIDDEN]),
]
