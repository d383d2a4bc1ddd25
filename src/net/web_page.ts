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
    <span id="room"></span>
    <span id="status" role="status">connecting…</span>
    <span class="tools">
      <button id="notify" type="button" aria-pressed="false" aria-label="Notifications"
        title="Notify me of mentions and private messages while this tab is hidden"><svg
        viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor"
        d="M12 3a5 5 0 0 0-5 5v4.2L5 15.5V17h14v-1.5l-2-3.3V8a5 5 0 0 0-5-5zm-2.2 15.5a2.2 2.2 0 0 0 4.4 0z"/></svg></button>
      <label class="choice" title="Show the time before every line (else on hover)"><input
        id="stamps" type="checkbox"> times</label>
      <button id="people-toggle" type="button" aria-controls="people"
        aria-expanded="false">people</button>
    </span>
    <div id="topic"></div>
  </header>
  <div id="middle">
    <div id="log" role="log" aria-live="polite"></div>
    <aside id="people" aria-label="People in the room">
      <ul id="nicks" aria-label="Nicks"></ul>
    </aside>
  </div>
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
  --link: #8cc8ff;
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
  flex-wrap: wrap;
  align-items: center;
  gap: 0.2em 0.75em;
  padding: 0.4em 0.75em;
  border-bottom: 1px solid var(--line);
  min-width: 0;
}
h1 {
  font-size: 1em;
  margin: 0;
  min-width: 0;
  white-space: nowrap;
  overflow: hidden;
  text-overflow: ellipsis;
}
#room { color: var(--link); white-space: nowrap; }
#status { color: var(--dim); font-size: 0.9em; }
#status.down { color: #e5c07b; }
.tools {
  margin-left: auto;
  display: flex;
  align-items: center;
  gap: 0.5em;
}
.tools button {
  font: inherit;
  font-size: 0.9em;
  color: var(--dim);
  background: none;
  border: 1px solid #333a44;
  border-radius: 4px;
  padding: 0.1em 0.45em;
}
#notify { line-height: 0; padding: 0.25em 0.4em; }
#notify svg { width: 1.1em; height: 1.1em; }
#notify[aria-pressed="true"] { color: #e5c07b; border-color: #e5c07b; }
.choice {
  display: flex;
  align-items: center;
  gap: 0.25em;
  color: var(--dim);
  font-size: 0.9em;
  white-space: nowrap;
}
#topic {
  flex-basis: 100%;
  min-width: 0;
  color: var(--dim);
  font-size: 0.9em;
  white-space: nowrap;
  overflow: hidden;
  text-overflow: ellipsis;
}
#topic:empty { display: none; }
#middle {
  flex: 1;
  display: flex;
  min-height: 0;
  position: relative;
}
#log {
  flex: 1;
  min-width: 0;
  overflow-y: auto;
  overflow-x: hidden;
  padding: 0.5em 0.75em;
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
#log.stamps .line::before { content: attr(data-time) " "; color: var(--dim); }
a { color: var(--link); }
#people {
  flex: none;
  width: 13em;
  overflow-y: auto;
  padding: 0.5em 0.75em;
  border-left: 1px solid var(--line);
}
#nicks { list-style: none; margin: 0; padding: 0; }
#nicks li { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tags { color: var(--dim); }
#people-toggle { display: none; }
@media (max-width: 640px) {
  #people {
    display: none;
    position: absolute;
    top: 0;
    right: 0;
    bottom: 0;
    max-width: 75%;
    background: var(--bg);
    z-index: 1;
  }
  #people.open { display: block; }
  #people-toggle { display: inline-block; }
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
form input {
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
form button {
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
  function $(id) {
    return document.getElementById(id);
  }
  var log = $("log");
  var form = $("form");
  var input = $("input");
  var status = $("status");
  var roomEl = $("room");
  var topicEl = $("topic");
  var notifyButton = $("notify");
  var stampsBox = $("stamps");
  var peopleButton = $("people-toggle");
  var people = $("people");
  var nickList = $("nicks");
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
  var TITLE = document.title;
  var NOTIFY_KEY = "shat.notify";
  var STAMPS_KEY = "shat.stamps";
  // The server strikes a line that comes sooner than --rate-limit (500 ms by default) after the
  // last: a line the page sends by itself keeps this far from the others, with room for a late
  // packet. The person's lines just after one of the page's own wait (holdUntil), in "held".
  var GAP = 1000;
  var lastSend = -Infinity;
  var holdUntil = 0;
  var held = [];
  // The person's line last sent from "held", while a refusal may still be for it: sent once more.
  var resend = "";
  var heldTimer = 0;
  var whoTimer = 0;
  var whoTries = 0;
  // The /who commands sent and not yet answered, in order: { auto, at }.
  var whoAsked = [];
  // The /who answer being read: { hide, fill }.
  var who = null;
  var WHO_HEAD = /^\\d+ in (#\\S+) \\(\\d+ online\\):$/;
  var WHO_ENTRY = /^  (\\S+)(?: \\(([^)]*)\\))? +idle /;
  var WHO_MORE = /^  … and (\\d+) more$/;
  var room = "";
  var members = [];
  var more = 0;
  var listChanged = false;
  var unread = 0;
  var unreadMarked = false;
  var notifyOn = false;

  function stored(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (e) {
      return null; // storage is off: the settings last as long as the page
    }
  }

  function store(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (e) {
      // storage is off or full: the setting lasts as long as the page
    }
  }

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

  // An http(s) address starts a line or follows a space, a bracket or a quote: never the middle
  // of a word or of another scheme (javascript:…//http://…), so a link's address is all of it.
  // It ends before a space, a quote, an angle bracket or a backslash.
  var URL_RE = /(^|[\\s(\\[{<"'\\u201c\\u2018])(https?:\\/\\/[^\\s<>"'\\x60\\\\\\u201c\\u201d\\u2018\\u2019]+)/gi;

  function count(text, c) {
    return text.split(c).length - 1;
  }

  /** url without the punctuation that ends the sentence around it; brackets it opened stay. */
  function trimUrl(url) {
    for (;;) {
      var c = url.charAt(url.length - 1);
      if (c === ")" || c === "]") {
        if (count(url, c === ")" ? "(" : "[") >= count(url, c)) return url;
      } else if (".,!?:;}".indexOf(c) < 0) return url;
      url = url.slice(0, -1);
    }
  }

  function webUrl(url) {
    try {
      var u = new URL(url);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
    } catch (e) {
      return false;
    }
  }

  /**
   * Appends text to parent as text, with its http(s) addresses as links whose text is
   * exactly their address. Nothing else becomes markup.
   */
  function addText(parent, text) {
    var at = 0;
    var m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text))) {
      var start = m.index + m[1].length;
      var url = trimUrl(m[2]);
      if (!webUrl(url)) continue;
      if (start > at) parent.append(text.slice(at, start));
      var a = document.createElement("a");
      a.textContent = url;
      a.setAttribute("href", url);
      a.setAttribute("rel", "noopener noreferrer");
      a.setAttribute("target", "_blank");
      parent.appendChild(a);
      at = start + url.length;
      URL_RE.lastIndex = at;
    }
    if (at < text.length) parent.append(text.slice(at));
  }

  function two(n) {
    return n < 10 ? "0" + n : String(n);
  }

  /** One line from the server, parsed only to colour it; every piece goes in as text. */
  function add(line) {
    if (whoLine(line)) return;
    var div = document.createElement("div");
    div.className = "line";
    var now = new Date();
    var time = two(now.getHours()) + ":" + two(now.getMinutes());
    div.title = time;
    div.setAttribute("data-time", time);
    var m;
    if ((m = /^<([^>\\s]+)> ([\\s\\S]*)$/.exec(line))) {
      div.append("<", nick(m[1]), "> ");
      addText(div, m[2]);
      if (m[1] !== me) said(div, room, m[1] + ": " + m[2], mentions(m[2]));
    } else if ((m = /^\\* ([^\\s*]+) ([\\s\\S]*)$/.exec(line))) {
      div.append("* ", nick(m[1]), " ");
      addText(div, m[2]);
      if (m[1] !== me) said(div, room, line, mentions(m[2]));
    } else if (line.indexOf("*** ") === 0) {
      addText(div, line);
      div.classList.add("notice");
      notice(line.slice(4));
    } else if ((m = /^\\[private\\] <([^>\\s]+)> ([\\s\\S]*)$/.exec(line))) {
      div.append(span("[private] ", "private"), "<", nick(m[1]), "> ");
      addText(div, m[2]);
      said(div, "private message from " + m[1], m[2], true);
    } else if ((m = /^\\[private to ([^\\]\\s]+)\\] ([\\s\\S]*)$/.exec(line))) {
      div.append(span("[private to ", "private"), nick(m[1]), span("] ", "private"));
      addText(div, m[2]);
    } else {
      addText(div, line);
      div.classList.add("server");
      told(line);
    }
    var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.appendChild(div);
    while (log.childNodes.length > MAX_LINES) log.removeChild(log.firstChild);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  /** Someone else said something: marked if it is for you, counted and told while hidden. */
  function said(div, title, body, forMe) {
    if (forMe) div.classList.add("mention");
    if (!document.hidden) return;
    unread++;
    if (forMe) unreadMarked = true;
    showTitle();
    if (forMe) notify(title, body);
  }

  /** A line the server said to this person alone. */
  function told(line) {
    var m;
    if ((m = /^Welcome to .*! You are (\\S+) in (#[^;\\s]+)/.exec(line))) {
      welcomed(m[1]);
      enterRoom(m[2]);
    } else if ((m = /^You are now in (#[^;\\s]+);/.exec(line))) {
      enterRoom(m[1]);
    } else if ((m = /^You are now (\\S+)\\.$/.exec(line))) {
      renamed(me, m[1]);
      me = m[1];
      chosen = me;
      showPeople();
    } else if ((m = /^Topic: ([\\s\\S]*?)(?: \\(set by \\S*\\))?$/.exec(line))) {
      setTopic(m[1]);
    } else if ((m = /^The topic of (#\\S+)(?: is now)?: ([\\s\\S]*?)(?: \\(set by \\S*\\))?$/.exec(line))) {
      if (m[1] === room) setTopic(m[2]);
    } else if ((m = /^(#\\S+) has no topic\\./.exec(line))) {
      if (m[1] === room) setTopic("");
    } else if (line === "Topic cleared.") {
      setTopic("");
    } else if (line === "Slow down: that line was not sent.") {
      // The page's own /who was the line refused: ask again a little later.
      var last = whoAsked[whoAsked.length - 1];
      if (last && last.auto) {
        whoAsked.pop();
        if (whoTries < 3) askWho();
      } else if (resend) {
        // The person's line the page held for its own was refused: once more, later.
        held.unshift({ text: resend, again: false });
        resend = "";
        holdUntil = performance.now() + GAP;
        sendHeld();
      }
    }
    if (/: this room is private\\. Type the room token/.test(line)) secretInput(true);
  }

  /** A notice to the room (***  taken off): who comes and goes, renames, the topic. */
  function notice(text) {
    var m;
    if ((m = /^(\\S+) joined$/.exec(text))) {
      addMember(m[1]);
    } else if ((m = /^(\\S+) (?:left(?: \\(| for #|$)|was sent out of #|was banned from #)/.exec(text))) {
      removeMember(m[1]);
    } else if ((m = /^(\\S+) is now (\\S+)$/.exec(text))) {
      renamed(m[1], m[2]);
    } else if ((m = /^\\S+ set the topic: ([\\s\\S]*)$/.exec(text))) {
      setTopic(m[1]);
    } else if (/^\\S+ cleared the topic$/.test(text)) {
      setTopic("");
    } else return;
    showPeople();
  }

  function setTopic(text) {
    topicEl.textContent = "";
    addText(topicEl, text);
    topicEl.title = text;
  }

  /** This person is now in label: the header says so, and the page asks who is there. */
  function enterRoom(label) {
    room = label;
    roomEl.textContent = label;
    nickList.setAttribute("aria-label", "People in " + label);
    setTopic("");
    members = me ? [{ nick: me, tags: "" }] : [];
    more = 0;
    showPeople();
    whoTries = 0;
    askWho();
  }

  function find(name) {
    var key = name.toLowerCase();
    for (var i = 0; i < members.length; i++) if (members[i].nick.toLowerCase() === key) return i;
    return -1;
  }

  function addMember(name) {
    if (find(name) < 0) members.push({ nick: name, tags: "" });
  }

  function removeMember(name) {
    var i = find(name);
    if (i >= 0) members.splice(i, 1);
  }

  function renamed(from, to) {
    var i = find(from);
    if (i >= 0) members[i].nick = to;
  }

  function showPeople() {
    listChanged = false;
    members.sort(function (a, b) {
      return a.nick.localeCompare(b.nick);
    });
    nickList.textContent = "";
    for (var i = 0; i < members.length; i++) {
      var li = document.createElement("li");
      li.appendChild(nick(members[i].nick));
      var tags = members[i].tags.split(", ").filter(function (t) {
        return t && t !== "you";
      });
      if (tags.length) li.appendChild(span(" (" + tags.join(", ") + ")", "tags"));
      nickList.appendChild(li);
    }
    if (more > 0) {
      var rest = document.createElement("li");
      rest.className = "tags";
      rest.textContent = "… and " + more + " more";
      nickList.appendChild(rest);
    }
    peopleButton.textContent = "people " + (members.length + more);
  }

  /**
   * Reads the answers to /who: the one the page asked for itself is not shown; any answer about
   * this room fills the list. True when line is to be hidden.
   */
  function whoLine(line) {
    var m;
    if (who) {
      if ((m = WHO_ENTRY.exec(line))) {
        if (who.fill) {
          members.push({ nick: m[1], tags: m[2] || "" });
          listChanged = true;
        }
        return who.hide;
      }
      if ((m = WHO_MORE.exec(line))) {
        if (who.fill) {
          more = Number(m[1]);
          listChanged = true;
        }
        return who.hide;
      }
      who = null;
    }
    if (!(m = WHO_HEAD.exec(line))) return false;
    var now = performance.now();
    // An answer that never came (the line was refused) is forgotten after a while.
    while (whoAsked.length && now - whoAsked[0].at > 10000) whoAsked.shift();
    var asked = whoAsked.shift();
    who = { hide: !!(asked && asked.auto), fill: m[1] === room };
    if (who.fill) {
      members = [];
      more = 0;
      listChanged = true;
    }
    return who.hide;
  }

  /** Sends /who as soon as it keeps the gap from the page's last line. */
  function askWho() {
    if (whoTimer) return;
    var wait = Math.max(0, lastSend + GAP - performance.now());
    whoTimer = setTimeout(function () {
      whoTimer = 0;
      if (!ws || ws.readyState !== 1) return;
      if (performance.now() - lastSend < GAP) return askWho();
      whoTries++;
      transmit("/who", true);
    }, wait);
  }

  /** Sends a line; auto when the page sends it by itself rather than the person. */
  function transmit(text, auto) {
    ws.send(text);
    lastSend = performance.now();
    resend = "";
    if (auto) holdUntil = lastSend + GAP;
    if (/^\\/who(\\s|$)/i.test(text)) whoAsked.push({ auto: auto, at: lastSend });
  }

  /** The person's line: held while the page's own last line is too recent. */
  function sendLine(text) {
    if (!held.length && performance.now() >= holdUntil) return transmit(text, false);
    held.push({ text: text, again: true });
    sendHeld();
  }

  /** Sends the held lines, the first when the hold is over, each next one a gap later. */
  function sendHeld() {
    if (heldTimer || !held.length) return;
    heldTimer = setTimeout(function () {
      heldTimer = 0;
      if (!ws || ws.readyState !== 1) {
        held = [];
        return;
      }
      if (performance.now() >= holdUntil) {
        var line = held.shift();
        transmit(line.text, false);
        if (line.again) resend = line.text;
        if (held.length) holdUntil = lastSend + GAP;
      }
      sendHeld();
    }, Math.max(0, holdUntil - performance.now()));
  }

  function showTitle() {
    document.title = unread ? "(" + unread + (unreadMarked ? "!" : "") + ") " + TITLE : TITLE;
  }

  function seen() {
    if (document.hidden || !unread) return;
    unread = 0;
    unreadMarked = false;
    showTitle();
  }

  document.addEventListener("visibilitychange", seen);
  window.addEventListener("focus", seen);

  /** A desktop notification, when asked for and allowed, while the page is hidden. */
  function notify(title, body) {
    if (!notifyOn || !document.hidden || !("Notification" in window)) return;
    if (Notification.permission !== "granted") return;
    try {
      var n = new Notification(title, { body: body });
      n.onclick = function () {
        window.focus();
        n.close();
      };
    } catch (e) {
      // Some browsers (Chrome on Android) only notify from a service worker.
    }
  }

  function setNotify(on) {
    notifyOn = on;
    notifyButton.setAttribute("aria-pressed", on ? "true" : "false");
    store(NOTIFY_KEY, on ? "1" : "0");
  }

  notifyButton.addEventListener("click", function () {
    if (notifyOn) return setNotify(false);
    if (!("Notification" in window)) {
      notifyButton.title = "This browser cannot show notifications.";
      return;
    }
    if (Notification.permission === "granted") return setNotify(true);
    if (Notification.permission === "denied") {
      notifyButton.title = "Notifications are blocked for this page in the browser's settings.";
      return;
    }
    var answered = false;
    var answer = function (permission) {
      if (answered) return;
      answered = true;
      setNotify(permission === "granted");
    };
    // Older Safari takes a callback and returns nothing; the others return a promise.
    var asked = Notification.requestPermission(answer);
    if (asked && asked.then) asked.then(answer);
  });

  notifyOn = stored(NOTIFY_KEY) === "1" && "Notification" in window &&
    Notification.permission === "granted";
  notifyButton.setAttribute("aria-pressed", notifyOn ? "true" : "false");

  function setStamps(on) {
    log.classList.toggle("stamps", on);
    stampsBox.checked = on;
  }

  stampsBox.addEventListener("change", function () {
    setStamps(stampsBox.checked);
    store(STAMPS_KEY, stampsBox.checked ? "1" : "0");
  });
  setStamps(stored(STAMPS_KEY) === "1");

  peopleButton.addEventListener("click", function () {
    var open = !people.classList.contains("open");
    people.classList.toggle("open", open);
    peopleButton.setAttribute("aria-expanded", open ? "true" : "false");
  });

  /** A (new) connection: after a reconnect, ask for the nick this person had chosen. */
  function welcomed(guest) {
    me = guest;
    secretInput(false);
    if (chosen && chosen !== guest && ws && ws.readyState === 1) transmit("/nick " + chosen, true);
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

  /** The connection is gone: what the page knew of the room is no more. */
  function forget() {
    clearTimeout(whoTimer);
    clearTimeout(heldTimer);
    whoTimer = heldTimer = 0;
    held = [];
    whoAsked = [];
    who = null;
    lastSend = -Infinity;
    holdUntil = 0;
    resend = "";
    members = [];
    more = 0;
    showPeople();
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
      if (listChanged) showPeople();
    };
    ws.onclose = function () {
      ws = null;
      me = "";
      forget();
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
    sendLine(text);
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
      $("app").style.height = window.visualViewport.height + "px";
      log.scrollTop = log.scrollHeight;
    });
  }

  showPeople();
  connect();
})();
`;
}

/** The page with the server's name in it (escaped: it is text). */
export function pageHtml(name: string): string {
  const escaped = name.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return PAGE.replaceAll("{{NAME}}", escaped);
}
