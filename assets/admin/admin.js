// The admin console: backup sets and long-running operations, with live
// progress over a GraphQL subscription. Queries and mutations go to POST
// /graphql with the admin token (a static token with the admin role, or a JWT
// from the identity provider with the admin role), which is kept in this
// tab's session storage only: never in local storage, cookies or URLs (see
// token.js). Signing in asks the server who the token is (the `me` query);
// only an admin gets the console.
"use strict";

const TOKEN_KEY = "hiring-analytics.admin-token";

const OPERATION_FIELDS = `fragment OperationFields on Operation {
  id kind state startedBy queuedAt startedAt finishedAt cancelRequested
  progress { done total unit phase }
  error { code message }
  result {
    __typename
    ... on BackupSet { id totalRows totalBytes }
    ... on BackupVerification { backup { id } rowsChecked }
    ... on RestoreReport { backupId dryRun tables { table rowsBefore rowsRestored } }
    ... on ImportSummary { table read inserted unchanged rejected }
  }
}`;

const CONSOLE_QUERY = `query AdminConsole {
  backups { id createdAt backend location totalRows totalBytes tables { table rows bytes } }
  operations(first: 20) { edges { node { ...OperationFields } } }
}
${OPERATION_FIELDS}`;

const BACKUPS_QUERY = `query Backups {
  backups { id createdAt backend location totalRows totalBytes tables { table rows bytes } }
}`;

const WATCH_OPERATION = `subscription WatchOperation($id: ID!) {
  operation(id: $id) { ...OperationFields }
}
${OPERATION_FIELDS}`;

const START = {
  backup: `mutation StartBackup { startBackup { ...OperationFields } } ${OPERATION_FIELDS}`,
  verify: `mutation StartVerify($id: ID!) { startVerifyBackup(id: $id) { ...OperationFields } } ${OPERATION_FIELDS}`,
  restore: `mutation StartRestore($backupId: ID!, $dryRun: Boolean!) {
    startRestore(backupId: $backupId, dryRun: $dryRun) { ...OperationFields }
  } ${OPERATION_FIELDS}`,
  cancel: `mutation CancelOperation($id: ID!) { cancelOperation(id: $id) { ...OperationFields } } ${OPERATION_FIELDS}`,
};

const STATE_RANK = { QUEUED: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2, CANCELLED: 2 };
const AUTH_CODES = new Set(["UNAUTHENTICATED", "FORBIDDEN"]);

const $ = (id) => document.getElementById(id);
const operations = new Map(); // id -> the latest state seen
const watching = new Map(); // id -> stops its subscription
let live = null;

// ---- The token ----

const token = BearerToken.keptAs(TOKEN_KEY);

function showSignedIn(signedIn) {
  $("sign-in").hidden = signedIn;
  $("console").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  if (!signedIn) $("identity").hidden = true;
}

/** Who the server takes the token for, and its role (the `me` query). */
function showIdentity(me) {
  $("identity").textContent = BearerToken.signedInText(me);
  $("identity").title = me.identity;
  $("identity").hidden = false;
}

// Asks the server who the token is, and opens the console for an admin only:
// anyone else is told why before any admin query is tried.
async function signIn() {
  const answer = await token.me();
  const me = answer.data && answer.data.me;
  if (!me) {
    const error = apiError(answer.errors);
    if (AUTH_CODES.has(error.code)) refused(error);
    else {
      // No answer: the token may be fine, so it is kept for another try.
      showSignedIn(false);
      showError(error);
    }
    return;
  }
  if (me.role !== "admin") {
    signOut(new ApiError("This console needs the admin role: " + (me.display || me.identity) + " has the " + me.role +
      " role. Sign in with an admin token or a JWT with the admin role.", "FORBIDDEN"));
    return;
  }
  $("error").hidden = true;
  showSignedIn(true);
  showIdentity(me);
  loadConsole();
}

function signOut(reason) {
  token.forget();
  if (live) live.dispose();
  live = null;
  watching.clear();
  operations.clear();
  showSignedIn(false);
  $("connection").textContent = "";
  if (reason) showError(reason);
  $("token").focus();
}

// Signs out after the server refused the token for an admin request.
function refused(error) {
  signOut(error.code === "FORBIDDEN"
    // The token is valid but its role is lower: say what the console needs.
    ? new ApiError("This console needs the admin role, which this token does not have: " + error.message, error.code)
    : error);
}

// ---- Talking to the server ----

/** An error answered by the server, with its `extensions.code`. */
class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code || null;
  }
}

function apiError(errors) {
  const first = (errors && errors[0]) || {};
  return new ApiError(first.message || "unknown error", first.extensions && first.extensions.code);
}

async function graphql(query, variables) {
  const answer = await token.post(query, variables);
  if (answer.errors && answer.errors.length) throw apiError(answer.errors);
  return answer.data;
}

function liveClient() {
  if (!live) {
    live = GraphQLWs.createClient({
      url: GraphQLWs.sameOriginUrl("/graphql"),
      connectionParams: token.connectionParams,
      onStatus: showConnection,
    });
  }
  return live;
}

function showConnection(status, detail) {
  const text = {
    connecting: "Live updates: connecting…",
    live: "Live updates: connected",
    retrying: "Live updates: reconnecting in " + Math.ceil(detail / 1000) + " s",
    refused: "Live updates: refused (" + detail + ")",
    closed: "Live updates: idle",
  }[status];
  $("connection").textContent = text || status;
  $("connection").dataset.status = status;
}

// ---- Messages ----

function showError(error) {
  const code = error.code ? " [" + error.code + "]" : "";
  $("error").textContent = (error.message || String(error)) + code;
  $("error").dataset.code = error.code || "";
  $("error").hidden = false;
}

function showNotice(text) {
  $("error").hidden = true;
  $("notice").textContent = text;
  $("notice").hidden = false;
}

// Runs `action`; an answer refusing the token signs out, any other error is shown.
async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    if (AUTH_CODES.has(error.code)) refused(error);
    else showError(error);
    return undefined;
  }
}

// ---- Formatting ----

const number = (n) => (n === null || n === undefined ? "?" : Number(n).toLocaleString("en-US"));
const tableName = (table) => table.toLowerCase();

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
}

function element(tag, properties, children) {
  const node = Object.assign(document.createElement(tag), properties || {});
  if (children) node.append(...children);
  return node;
}

function time(iso) {
  if (!iso) return element("span", { className: "muted", textContent: "—" });
  return element("time", { dateTime: iso, title: iso, textContent: new Date(iso).toLocaleString() });
}

function cell(field, ...children) {
  const td = element("td", {}, children);
  td.dataset.field = field;
  return td;
}

function button(label, action, testid) {
  const node = element("button", { type: "button", textContent: label });
  node.dataset.action = action;
  node.dataset.testid = testid;
  return node;
}

// ---- Backup sets ----

function renderBackups(backups) {
  const rows = backups.map((backup) => {
    const tables = backup.tables.map((t) => tableName(t.table) + " " + number(t.rows)).join(" · ");
    const tr = element("tr", {}, [
      cell("id", element("code", { textContent: backup.id })),
      cell("created-at", time(backup.createdAt)),
      cell("tables", tables),
      cell("total-rows", number(backup.totalRows)),
      cell("total-bytes", bytes(backup.totalBytes)),
      cell("location", element("span", { className: "location", textContent: backup.location })),
      cell("actions",
        button("Verify", "verify", "backup-verify"),
        button("Dry run", "dry-run", "backup-dry-run"),
        button("Restore…", "restore", "backup-restore")),
    ]);
    tr.dataset.backupId = backup.id;
    tr.dataset.testid = "backup";
    tr.querySelector("[data-field=total-rows]").className = "number";
    tr.querySelector("[data-field=total-bytes]").className = "number";
    tr.backup = backup;
    return tr;
  });
  if (rows.length === 0) rows.push(element("tr", {}, [element("td", { colSpan: 7, className: "muted", textContent: "No backup sets yet." })]));
  $("backups").tBodies[0].replaceChildren(...rows);
}

async function loadBackups() {
  const data = await attempt(() => graphql(BACKUPS_QUERY));
  if (data) renderBackups(data.backups);
}

function confirmRestore(backup) {
  const dialog = $("restore-dialog");
  $("restore-backup-id").textContent = backup.id;
  $("restore-taken").textContent = "Taken " + new Date(backup.createdAt).toLocaleString() + " (" + backup.createdAt + ") on " + backup.backend + ".";
  $("restore-tables").replaceChildren(...backup.tables.map((t) => {
    const li = element("li", {}, [
      element("code", { textContent: tableName(t.table) }),
      ": everything in it now is replaced by the backup's " + number(t.rows) + " rows",
    ]);
    li.dataset.table = tableName(t.table);
    return li;
  }));
  dialog.returnValue = "";
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "restore") start("restore", { backupId: backup.id, dryRun: false });
  }, { once: true });
  dialog.showModal();
}

function onBackupAction(event) {
  const target = event.target.closest("button[data-action]");
  const row = target && target.closest("tr[data-backup-id]");
  if (!row) return;
  const id = row.dataset.backupId;
  switch (target.dataset.action) {
    case "verify": start("verify", { id }); break;
    case "dry-run": start("restore", { backupId: id, dryRun: true }); break;
    case "restore": confirmRestore(row.backup); break;
  }
}

// ---- Operations ----

function resultText(result) {
  if (!result) return "";
  switch (result.__typename) {
    case "BackupSet":
      return "backup set " + result.id + ": " + number(result.totalRows) + " rows, " + bytes(result.totalBytes);
    case "BackupVerification":
      return "verified " + result.backup.id + ": " + number(result.rowsChecked) + " rows checked";
    case "RestoreReport":
      return (result.dryRun ? "dry run of " + result.backupId + ", rolled back: " : "restored " + result.backupId + ": ") +
        result.tables.map((t) => tableName(t.table) + " " + number(t.rowsBefore) + " → " + number(t.rowsRestored) + " rows").join("; ");
    case "ImportSummary":
      return tableName(result.table) + ": read " + number(result.read) + ", inserted " + number(result.inserted) +
        ", unchanged " + number(result.unchanged) + ", rejected " + number(result.rejected);
    default:
      return result.__typename;
  }
}

function progressCell(operation) {
  const { done, total, unit, phase } = operation.progress;
  const bar = element("progress");
  bar.dataset.testid = "operation-progress";
  if (total !== null && total !== undefined && total > 0) {
    bar.max = total;
    bar.value = Math.min(done, total);
  } else if (operation.state === "SUCCEEDED") {
    // Nothing to count (an empty table, or a total the server could not know): done is all.
    bar.max = Math.max(done, 1);
    bar.value = bar.max;
  } else if (STATE_RANK[operation.state] === 2) {
    bar.max = 1;
    bar.value = 0;
  } // Otherwise no value: the bar shows that the amount is not known yet.
  const label = number(done) + (total !== null && total !== undefined ? " / " + number(total) : "") + " " + unit + (phase ? " · " + phase : "");
  const text = element("span", { className: "progress-label", textContent: label });
  text.dataset.testid = "operation-progress-label";
  return cell("progress", bar, text);
}

function operationRow(operation) {
  const error = operation.error
    ? [element("code", { textContent: operation.error.code, title: operation.error.message }), " " + operation.error.message]
    : [];
  const state = element("span", { className: "state state-" + operation.state.toLowerCase(), textContent: operation.state });
  if (operation.cancelRequested && STATE_RANK[operation.state] < 2) state.textContent += " (cancelling)";
  const actions = STATE_RANK[operation.state] < 2 && !operation.cancelRequested ? [button("Cancel", "cancel", "operation-cancel")] : [];
  const tr = element("tr", {}, [
    cell("kind", operation.kind),
    cell("state", state),
    progressCell(operation),
    cell("started-by", operation.startedBy),
    cell("queued-at", time(operation.queuedAt)),
    cell("finished-at", time(operation.finishedAt)),
    cell("error", ...error),
    cell("result", resultText(operation.result)),
    cell("actions", ...actions),
  ]);
  tr.dataset.operationId = operation.id;
  tr.dataset.kind = operation.kind;
  tr.dataset.state = operation.state;
  tr.dataset.testid = "operation";
  return tr;
}

// Stores `operation` unless what is stored is further along (a list loaded
// before a subscription's last event must not undo it); returns whether it did.
function remember(operation) {
  const known = operations.get(operation.id);
  if (known && STATE_RANK[known.state] > STATE_RANK[operation.state]) return false;
  operations.set(operation.id, operation);
  return true;
}

// Shows `operation` in its row, or in a new row at the top.
function showOperation(operation) {
  if (!remember(operation)) return;
  const body = $("operations").tBodies[0];
  const row = operationRow(operation);
  const existing = body.querySelector(`tr[data-operation-id="${CSS.escape(operation.id)}"]`);
  if (existing) existing.replaceWith(row);
  else {
    const placeholder = body.querySelector("tr:not([data-operation-id])");
    if (placeholder) placeholder.remove();
    body.prepend(row);
  }
  if (STATE_RANK[operation.state] < 2) watch(operation.id);
}

function renderOperations(list) {
  const body = $("operations").tBodies[0];
  for (const operation of list) remember(operation);
  const rows = list.map((operation) => operationRow(operations.get(operation.id)));
  if (rows.length === 0) rows.push(element("tr", {}, [element("td", { colSpan: 9, className: "muted", textContent: "No operations yet." })]));
  body.replaceChildren(...rows);
  for (const operation of list) if (STATE_RANK[operations.get(operation.id).state] < 2) watch(operation.id);
}

function watch(id) {
  if (watching.has(id)) return;
  const stop = liveClient().subscribe({ query: WATCH_OPERATION, variables: { id } }, {
    next: (result) => {
      if (result.errors && result.errors.length) showError(apiError(result.errors));
      if (result.data && result.data.operation) showOperation(result.data.operation);
    },
    error: (errors) => {
      watching.delete(id);
      const error = apiError(errors);
      if (AUTH_CODES.has(error.code)) refused(error);
      else showError(error);
    },
    complete: () => {
      watching.delete(id);
      finished(operations.get(id));
    },
  });
  watching.set(id, stop);
}

function finished(operation) {
  if (!operation) return;
  if (operation.kind === "BACKUP" && operation.state === "SUCCEEDED") loadBackups();
  const what = operation.kind.toLowerCase() + " " + operation.id;
  if (operation.state === "SUCCEEDED") showNotice("The " + what + " succeeded. " + resultText(operation.result));
  else if (operation.error) showError(new ApiError("The " + what + " ended " + operation.state + ": " + operation.error.message, operation.error.code));
  else showNotice("The " + what + " ended " + operation.state + ".");
}

async function start(kind, variables) {
  const data = await attempt(() => graphql(START[kind], variables));
  if (!data) return;
  const operation = Object.values(data)[0];
  showNotice("Started " + operation.kind.toLowerCase() + " " + operation.id + ".");
  showOperation(operation);
}

function onOperationAction(event) {
  const target = event.target.closest("button[data-action=cancel]");
  const row = target && target.closest("tr[data-operation-id]");
  if (row) start("cancel", { id: row.dataset.operationId });
}

// ---- Start ----

async function loadConsole() {
  const data = await attempt(() => graphql(CONSOLE_QUERY));
  if (!data) return;
  renderBackups(data.backups);
  renderOperations(data.operations.edges.map((edge) => edge.node));
}

function init() {
  BearerToken.whenPasted($("sign-in"), $("token"), (pasted) => {
    token.set(pasted);
    signIn();
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("start-backup").addEventListener("click", () => start("backup", {}));
  $("refresh").addEventListener("click", loadConsole);
  $("backups").addEventListener("click", onBackupAction);
  $("operations").addEventListener("click", onOperationAction);
  showSignedIn(false);
  if (token.get()) signIn();
}

init();
