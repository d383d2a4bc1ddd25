/**
 * The chat page for browsers: one HTML document, its stylesheet and its script, served by the web
 * port (no CDN, no build step, no packages). The script connects to /ws and shows every line it
 * receives as text, never as markup; nicks get the colours telnet users see (the same palette,
 * the same hash) and a line that names you is highlighted. The strings below are the files.
 */

/** The page; `{{NAME}}` is replaced with the server's name, escaped. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, interactive-widget=resizes-content">
<meta name="color-scheme" content="dark">
<title>{{NAME}}</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<main id="app">
  <header>
    <h1>{{NAME}}</h1>
    <span id="status" role="status">connecting…</span>
  </header>
  <div id="log" role="log" aria-live="polite"></div>
  <form id="form" autocomplete="off">
    <input id="input" name="line" type="text" maxlength="4096" enterkeyhint="send"
      placeholder="Type a message, or /help" aria-label="Message" autofocus>
    <button type="submit">Send</button>
  </form>
</main>
</body>
</html>
`;

/** The stylesheet. */
export const APP_CSS = `:root {
  color-scheme: dark;
  --bg: #14161a;
  --fg: #dcdfe4;
  --dim: #8b93a1;
  --line: #2a2e35;
}
* { box-sizing: border-box; }
html, body {
  margin: 0;
  height: 100%;
  background: var(--bg);
  color: var(--fg);
  font: 15px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
#app {
  display: flex;
  flex-direction: column;
  height: 100vh;
  height: 100dvh;
  width: 100%;
}
header {
  display: flex;
  align-items: baseline;
  gap: 0.75em;
  padding: 0.4em 0.75em;
  border-bottom: 1px solid var(--line);
  min-width: 0;
}
h1 {
  font-size: 1em;
  margin: 0;
  white-space: nowrap;
  overflow: hidden;
  text-overflow: ellipsis;
}
#status { color: var(--dim); font-size: 0.9em; }
#status.down { color: #e5c07b; }
#log {
  flex: 1;
  overflow-y: auto;
  overflow-x: hidden;
  padding: 0.5em 0.75em;
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
.line { min-height: 1.45em; }
.notice { color: var(--dim); }
.server { color: #a9b2c3; }
.private { color: #e0a0ff; }
.mention { background: #3d3520; border-radius: 3px; }
.me { font-weight: bold; }
form {
  display: flex;
  gap: 0.5em;
  padding: 0.5em 0.75em;
  border-top: 1px solid var(--line);
  background: var(--bg);
}
input {
  flex: 1;
  min-width: 0;
  font: inherit;
  font-size: 16px;
  color: inherit;
  background: #1d2026;
  border: 1px solid #333a44;
  border-radius: 4px;
  padding: 0.5em 0.6em;
}
button {
  font: inherit;
  color: var(--bg);
  background: #8cc8ff;
  border: 0;
  border-radius: 4px;
  padding: 0.5em 0.9em;
}
`;

/**
 * The script. Written without backquotes or dollar-brace so that it can live in this string;
 * everything received goes into the page through textContent. `secretLine` is the pattern of
 * command lines that carry a secret (the operator token, a room key, a password): Up never
 * recalls them. `secretArgs` matches a line being typed once its secret part has begun (after
 * `/identify `): while it does, the input is a password field.
 */
export function appJs(secretLine: RegExp, secretArgs: RegExp): string {
  return `"use strict";
(function () {
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("input");
  var status = document.getElementById("status");
  // The colours of src/render.ts's palette (ANSI 31-36, 91-96), in the same order.
  var PALETTE = ["#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2",
    "#ff8a94", "#b5e890", "#ffd580", "#8cc8ff", "#e0a0ff", "#7fdbe6"];
  var me = "";
  var chosen = "";
  var ws = null;
  var delay = 500;
  var sent = [];
  var recall = -1;
  var draft = "";
  var MAX_LINES = 2000;
  var SECRET = ${secretLine};
  var SECRET_ARGS = ${secretArgs};
  var tokenAsked = false;

  /** The colour of a nick: FNV-1a of its lower case, as the server computes it. */
  function color(nick) {
    var h = 0x811c9dc5;
    for (var i = 0; i < nick.length; i++) {
      var c = nick.charCodeAt(i);
      if (c >= 65 && c <= 90) c += 32;
      h = Math.imul(h ^ c, 0x01000193);
    }
    return PALETTE[(h >>> 0) % PALETTE.length];
  }

  function mentions(text) {
    if (!me) return false;
    var words = text.toLowerCase().split(/[^a-z0-9_.-]+/);
    var mine = me.toLowerCase();
    for (var i = 0; i < words.length; i++) {
      var w = words[i];
      if (w === mine || w.replace(/[.-]+$/, "").replace(/^[.-]+/, "") === mine) return true;
    }
    return false;
  }

  function span(text, cls, fg) {
    var s = document.createElement("span");
    s.textContent = text;
    if (cls) s.className = cls;
    if (fg) s.style.color = fg;
    return s;
  }

  function nick(name) {
    return span(name, name === me ? "me" : "", color(name));
  }

  /** One line from the server, parsed only to colour it; every piece goes in as text. */
  function add(line) {
    var div = document.createElement("div");
    div.className = "line";
    var m;
    if ((m = /^<([^>\\s]+)> ([\\s\\S]*)$/.exec(line))) {
      div.append("<", nick(m[1]), "> ", m[2]);
      if (m[1] !== me && mentions(m[2])) div.classList.add("mention");
    } else if ((m = /^\\* ([^\\s*]+) ([\\s\\S]*)$/.exec(line))) {
      div.append("* ", nick(m[1]), " ", m[2]);
      if (m[1] !== me && mentions(m[2])) div.classList.add("mention");
    } else if (line.indexOf("*** ") === 0) {
      div.textContent = line;
      div.classList.add("notice");
    } else if ((m = /^\\[private\\] <([^>\\s]+)> ([\\s\\S]*)$/.exec(line))) {
      div.append(span("[private] ", "private"), "<", nick(m[1]), "> ", m[2]);
      div.classList.add("mention");
    } else if ((m = /^\\[private to ([^\\]\\s]+)\\] ([\\s\\S]*)$/.exec(line))) {
      div.append(span("[private to ", "private"), nick(m[1]), span("] ", "private"), m[2]);
    } else {
      div.textContent = line;
      div.classList.add("server");
      if ((m = /^Welcome to .*! You are (\\S+) in #/.exec(line))) welcomed(m[1]);
      if (/: this room is private\\. Type the room token/.test(line)) secretInput(true);
      if ((m = /^You are now (\\S+)\\.$/.exec(line))) {
        me = m[1];
        chosen = me;
      }
    }
    var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.appendChild(div);
    while (log.childNodes.length > MAX_LINES) log.removeChild(log.firstChild);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  /** A (new) connection: after a reconnect, ask for the nick this person had chosen. */
  function welcomed(guest) {
    me = guest;
    secretInput(false);
    if (chosen && chosen !== guest && ws && ws.readyState === 1) ws.send("/nick " + chosen);
  }

  /** While the server asks for the room token, what is typed is not shown. */
  function secretInput(on) {
    tokenAsked = on;
    input.placeholder = on ? "Room token" : "Type a message, or /help";
    hideSecret();
  }

  /**
   * The input is a password field while it holds a secret: the room token the server asks for,
   * or a command line whose secret part has begun (/identify NICK PASSWORD, /op TOKEN, …).
   */
  function hideSecret() {
    var type = tokenAsked || SECRET_ARGS.test(input.value) ? "password" : "text";
    if (input.type === type) return;
    var start = input.selectionStart;
    var end = input.selectionEnd;
    input.type = type;
    if (document.activeElement === input) input.setSelectionRange(start, end);
  }

  function setStatus(text, down) {
    status.textContent = text;
    status.className = down ? "down" : "";
  }

  function connect() {
    setStatus("connecting…", false);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    ws = new WebSocket(url);
    ws.onopen = function () {
      setStatus("connected", false);
      delay = 500;
    };
    ws.onmessage = function (e) {
      var lines = String(e.data).split("\\r\\n");
      for (var i = 0; i < lines.length; i++) if (lines[i] !== "") add(lines[i]);
    };
    ws.onclose = function () {
      ws = null;
      me = "";
      var wait = delay;
      delay = Math.min(delay * 2, 30000);
      setStatus("disconnected; reconnecting in " + Math.ceil(wait / 1000) + " s…", true);
      setTimeout(connect, wait);
    };
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (text === "" || !ws || ws.readyState !== 1) return;
    ws.send(text);
    // No secret is recalled by Up: not the room token (sent before the welcome), an operator
    // token or a room key.
    if (me && !SECRET.test(text) && sent[sent.length - 1] !== text) sent.push(text);
    if (sent.length > 100) sent.shift();
    recall = -1;
    input.value = "";
    hideSecret();
  });

  input.addEventListener("input", hideSecret);

  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowUp" && recall + 1 < sent.length) {
      if (recall < 0) draft = input.value;
      recall++;
      input.value = sent[sent.length - 1 - recall];
      hideSecret();
      e.preventDefault();
    } else if (e.key === "ArrowDown" && recall >= 0) {
      recall--;
      input.value = recall < 0 ? draft : sent[sent.length - 1 - recall];
      hideSecret();
      e.preventDefault();
    }
  });

  // Keep the input in view above a phone's keyboard.
  if (window.visualViewport) {
    window.visualViewport.addEventListener("resize", function () {
      document.getElementById("app").style.height = window.visualViewport.height + "px";
      log.scrollTop = log.scrollHeight;
    });
  }

  connect();
})();
`;
}

/** The page with the server's name in it (escaped: it is text). */
export function pageHtml(name: string): string {
  const escaped = name.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return PAGE.replaceAll("{{NAME}}", escaped);
}
