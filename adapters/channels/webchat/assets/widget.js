/*
 * Tandem web chat widget. Vanilla ES2017, no dependencies, no build step.
 *
 * Embedding:
 *   <script>window.TandemConfig = { title: "Support", open: false,       // all optional
 *     user_token: "<JWT HS256 signed with identity_secret by your backend:
 *                  {sub: '42', email: 'ada@example.com', phone?, name: 'Ada', exp}>" };</script>
 *   (Recommended: every attribute in the token is verified. The older form,
 *    user: {id, email, name} + user_hash: hex HMAC-SHA256(identity_secret, user.id), signs the
 *    id alone; the browser's email and phone are then unverified claims.)
 *   <script src="https://chat.example.com/webchat/widget.js" async></script>
 * The WebSocket URL is derived from this script's own src (ws:/wss: + host + /webchat/ws).
 * Override it with TandemConfig.url or data-tandem-url="wss://…" on the script tag.
 *
 * Protocol (JSON text frames; docs/INTERFACE.md, "Web chat WebSocket protocol"):
 *   → {type:"hello", session?, user?, user_hash?, user_token?}   ← {type:"welcome", session, conversation_id, verified}
 *   → {type:"message", id, text, media?} | {type:"postback", id, payload, title?}   ← {type:"ack", id} once stored
 *   Files: POST /webchat/upload?name=… (body = the file, Content-Type = its type, Authorization: Bearer
 *   <session>) answers {media, kind, mime_type}; the message frame then carries media (text = caption).
 *   ← {type:"message", id, from:"customer"|"bot"|"agent"|"system", text, at, buttons?, agent_name?}
 *       (on resume, history is replayed oldest first, before new messages)
 *   ← {type:"typing", from}   ← {type:"error", code, message}
 * Client ids stay the same across resends, so the server deduplicates them. The session token is
 * kept in localStorage["tandem.session"]. Reconnects back off exponentially (1 s → 30 s, jitter);
 * messages typed while offline are queued and sent after the next welcome.
 *
 * API: window.Tandem.open(), .close(), .identify({user_token} | {user, user_hash}), .reset()
 * Untrusted text is only ever set with textContent (http(s) addresses become links), never parsed as HTML.
 */
(function () {
  'use strict';
  if (window.Tandem && window.Tandem.version) return; // loaded twice

  const script = document.currentScript ||
    Array.from(document.getElementsByTagName('script')).reverse()
      .find((s) => /\/webchat\/widget\.js([?#]|$)/.test(s.src));
  const cfg = Object.assign({}, window.TandemConfig || {});
  const STORE_KEY = 'tandem.session';
  const ACK_TIMEOUT = 10000, TYPING_TIMEOUT = 5000, BACKOFF_MIN = 1000, BACKOFF_MAX = 30000;
  const LABELS = { bot: 'Bot', agent: 'Agent', system: 'Notice' };
  const STATUS = { sending: 'Sending…', sent: 'Sent', failed: 'Not sent' };
  const SVG = 'http://www.w3.org/2000/svg';
  const ICON_CHAT = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z';
  const ICON_CLOSE = 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4L12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z';
  const ICON_SEND = 'M3 20.5 21 12 3 3.5v6.6L15 12 3 13.9z';
  const ICON_ATTACH = 'M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z';
  const UPLOAD_TYPES = 'image/*,audio/*,video/*,application/pdf,text/plain';

  const url = (function () {
    const base = script && script.src ? script.src : location.href;
    const u = new URL(cfg.url || (script && script.getAttribute('data-tandem-url')) || '/webchat/ws', base);
    if (u.protocol === 'https:') u.protocol = 'wss:';
    else if (u.protocol === 'http:') u.protocol = 'ws:';
    return u.href;
  })();
  // POST /webchat/upload on the same server as the socket.
  const uploadUrl = (function () {
    const u = new URL(url);
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    u.pathname = u.pathname.replace(/\/ws$/, '/upload');
    u.search = '';
    return u.href;
  })();

  const store = {
    get() { try { return localStorage.getItem(STORE_KEY); } catch (e) { return null; } },
    set(v) { try { localStorage.setItem(STORE_KEY, v); } catch (e) { /* storage disabled */ } },
    clear() { try { localStorage.removeItem(STORE_KEY); } catch (e) { /* storage disabled */ } },
  };

  function newId() {
    const c = window.crypto;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    const b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128; // RFC 4122 version 4
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function el(tag, cls, text, attrs) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    for (const k in attrs || {}) n.setAttribute(k, attrs[k]);
    return n;
  }

  function icon(d) {
    const s = document.createElementNS(SVG, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    s.appendChild(p);
    return s;
  }

  function fmtTime(at) {
    const d = at ? new Date(at) : new Date();
    if (isNaN(d.getTime())) return '';
    const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return d.toDateString() === new Date().toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
  }

  const CSS = `
:host { all: initial; }
.tandem-root { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1f2328; --tandem-accent: #4f46e5; --tandem-muted: #6b7280; }
.tandem-root *, .tandem-root *::before, .tandem-root *::after { box-sizing: border-box; }
.tandem-root [hidden] { display: none !important; }
.tandem-root button { font: inherit; cursor: pointer; }
.tandem-root button:focus-visible { outline: 2px solid var(--tandem-accent); outline-offset: 2px; }
.tandem-root svg { width: 22px; height: 22px; fill: currentColor; }
.tandem-launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483646; width: 56px; height: 56px;
  border: 0; border-radius: 50%; padding: 0; background: var(--tandem-accent); color: #fff;
  display: flex; align-items: center; justify-content: center; box-shadow: 0 6px 20px rgba(0,0,0,.25); }
.tandem-launcher svg { width: 26px; height: 26px; }
.tandem-badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; padding: 0 6px;
  border-radius: 10px; background: #e11d48; color: #fff; font-size: 11px; line-height: 20px; text-align: center; }
.tandem-panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483647; width: 370px; height: 560px;
  max-height: calc(100vh - 108px); display: flex; flex-direction: column; overflow: hidden;
  background: #fff; border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.22); }
.tandem-header { display: flex; align-items: center; gap: 10px; padding: 12px 10px 12px 16px;
  background: var(--tandem-accent); color: #fff; }
.tandem-headtext { flex: 1; min-width: 0; }
.tandem-title { margin: 0; font-size: 15px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tandem-conn { font-size: 12px; opacity: .85; }
.tandem-close { width: 34px; height: 34px; border: 0; border-radius: 8px; background: transparent; color: inherit;
  display: flex; align-items: center; justify-content: center; }
.tandem-close:hover { background: rgba(255,255,255,.18); }
.tandem-list { flex: 1; overflow-y: auto; padding: 14px 12px; background: #f6f7f9;
  display: flex; flex-direction: column; gap: 10px; }
.tandem-row { display: flex; flex-direction: column; align-items: flex-start; max-width: 85%; }
.tandem-row.tandem-customer { align-self: flex-end; align-items: flex-end; }
.tandem-label { margin: 0 4px 2px; font-size: 11px; font-weight: 600; color: var(--tandem-muted); }
.tandem-bubble { padding: 8px 12px; border: 1px solid #e5e7eb; border-radius: 14px; border-bottom-left-radius: 4px;
  background: #fff; white-space: pre-wrap; overflow-wrap: anywhere; }
.tandem-customer .tandem-bubble { background: var(--tandem-accent); border-color: transparent; color: #fff;
  border-radius: 14px; border-bottom-right-radius: 4px; }
.tandem-system .tandem-bubble { background: #fff8e6; border-color: #f3dfb0; }
.tandem-sending .tandem-bubble { opacity: .7; }
.tandem-failed .tandem-bubble { opacity: .6; }
.tandem-meta { margin: 2px 4px 0; font-size: 11px; color: var(--tandem-muted); }
.tandem-failed .tandem-meta { color: #b91c1c; }
.tandem-retry { margin-left: 6px; padding: 0; border: 0; background: none; color: inherit; text-decoration: underline; }
.tandem-chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.tandem-chip { padding: 5px 12px; border: 1px solid var(--tandem-accent); border-radius: 999px; background: #fff;
  color: var(--tandem-accent); font-size: 13px; }
.tandem-chip:hover:not(:disabled) { background: #eef2ff; }
.tandem-chip:disabled { opacity: .45; cursor: default; }
.tandem-note { align-self: center; max-width: 90%; font-size: 12px; color: var(--tandem-muted); text-align: center; }
.tandem-typing { padding: 4px 16px; background: #f6f7f9; font-size: 12px; font-style: italic; color: var(--tandem-muted); }
.tandem-form { display: flex; align-items: flex-end; gap: 8px; padding: 10px; border-top: 1px solid #e5e7eb; background: #fff; margin: 0; }
.tandem-input { flex: 1; min-height: 40px; max-height: 120px; padding: 9px 12px; resize: none; outline: none;
  border: 1px solid #d1d5db; border-radius: 10px; background: #fff; color: inherit; font: inherit; }
.tandem-input:focus { border-color: var(--tandem-accent); box-shadow: 0 0 0 3px rgba(79,70,229,.15); }
.tandem-send { width: 40px; height: 40px; flex: none; border: 0; border-radius: 10px; padding: 0;
  background: var(--tandem-accent); color: #fff; display: flex; align-items: center; justify-content: center; }
.tandem-send svg { width: 20px; height: 20px; }
.tandem-attach { width: 40px; height: 40px; flex: none; border: 0; border-radius: 10px; padding: 0; background: transparent;
  color: var(--tandem-muted); display: flex; align-items: center; justify-content: center; cursor: pointer; }
.tandem-attach:hover { color: var(--tandem-accent); }
.tandem-attach svg { width: 20px; height: 20px; }
.tandem-bubble img { display: block; max-width: 100%; max-height: 240px; border-radius: 8px; margin-bottom: 4px; }
.tandem-bubble a { color: inherit; text-decoration: underline; word-break: break-all; }
@media (max-width: 480px) {
  .tandem-panel { top: 0; left: 0; right: 0; bottom: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; }
  .tandem-open .tandem-launcher { display: none; }
  .tandem-input { font-size: 16px; }
}`;

  // ---- DOM ----------------------------------------------------------------------------------
  const host = el('div', null, null, { id: 'tandem-webchat' });
  const root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
  if (root !== host) root.appendChild(el('style', null, CSS));
  else if (!document.getElementById('tandem-styles')) {
    (document.head || document.documentElement).appendChild(el('style', null, CSS, { id: 'tandem-styles' }));
  }
  const title = cfg.title || 'Chat with us';
  const wrap = el('div', 'tandem-root');
  const launcher = el('button', 'tandem-launcher', null,
    { type: 'button', 'aria-label': 'Open chat', 'aria-expanded': 'false', 'aria-controls': 'tandem-panel' });
  const badge = el('span', 'tandem-badge', null, { hidden: '', 'aria-hidden': 'true' });
  launcher.append(icon(ICON_CHAT), badge);
  const panel = el('section', 'tandem-panel', null, { id: 'tandem-panel', role: 'dialog', 'aria-label': title, hidden: '' });
  const header = el('div', 'tandem-header');
  const headText = el('div', 'tandem-headtext');
  const conn = el('div', 'tandem-conn', null, { role: 'status' });
  headText.append(el('h2', 'tandem-title', title), conn);
  const closeBtn = el('button', 'tandem-close', null, { type: 'button', 'aria-label': 'Close chat' });
  closeBtn.appendChild(icon(ICON_CLOSE));
  header.append(headText, closeBtn);
  const list = el('div', 'tandem-list', null, { role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const typing = el('div', 'tandem-typing', null, { hidden: '' });
  const form = el('form', 'tandem-form');
  const input = el('textarea', 'tandem-input', null,
    { rows: '1', maxlength: '4000', placeholder: 'Type a message…', 'aria-label': 'Message' });
  const sendBtn = el('button', 'tandem-send', null, { type: 'submit', 'aria-label': 'Send message' });
  sendBtn.appendChild(icon(ICON_SEND));
  const attachBtn = el('button', 'tandem-attach', null, { type: 'button', 'aria-label': 'Send a file' });
  attachBtn.appendChild(icon(ICON_ATTACH));
  const fileInput = el('input', null, null, { type: 'file', accept: UPLOAD_TYPES, hidden: '' });
  form.append(attachBtn, fileInput, input, sendBtn);
  panel.append(header, list, typing, form);
  wrap.append(panel, launcher);
  root.appendChild(wrap);

  // ---- state --------------------------------------------------------------------------------
  let ws = null, gen = 0, ready = false, attempt = 0, started = false, isOpen = false, unread = 0;
  let reconnectTimer = null, typingTimer = null, conversationId = null;
  let session = store.get();
  const outgoing = new Map(); // client id -> {id, frame, text, status, row, meta, time, timer, firstGen, twin}
  const seen = new Set();     // ids of every message on screen

  function scrollDown() { list.scrollTop = list.scrollHeight; }

  // Only the newest message's buttons can be answered: anything said after them (a reply,
  // the customer's answer, also when history is replayed after a reload) retires them.
  function retireButtons() {
    list.querySelectorAll('.tandem-chip').forEach((b) => { b.disabled = true; });
  }

  function addRow(from, text, time, name) {
    retireButtons();
    const row = el('div', `tandem-row tandem-${from}`);
    const label = from === 'agent' && name ? String(name) : LABELS[from];
    if (label) row.appendChild(el('div', 'tandem-label', label));
    row.appendChild(bubble(text));
    const meta = el('div', 'tandem-meta', time);
    row.appendChild(meta);
    list.appendChild(row);
    scrollDown();
    return { row, meta };
  }

  function note(text) { list.appendChild(el('div', 'tandem-note', text)); scrollDown(); }
  function setConn(text) { conn.textContent = text; }

  function setStatus(e, status) {
    e.status = status;
    e.row.classList.toggle('tandem-sending', status === 'sending');
    e.row.classList.toggle('tandem-failed', status === 'failed');
    e.meta.textContent = [e.time, STATUS[status]].filter(Boolean).join(' · ');
    if (status === 'failed') {
      const retry = el('button', 'tandem-retry', 'Retry', { type: 'button', 'aria-label': 'Retry sending this message' });
      retry.addEventListener('click', () => { setStatus(e, 'sending'); if (ready) transmit(e); start(); });
      e.meta.appendChild(retry);
    }
  }

  function updateBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    launcher.setAttribute('aria-label', isOpen ? 'Close chat' : unread ? `Open chat (${unread} unread)` : 'Open chat');
  }

  function showTyping(from) {
    typing.textContent = `${from === 'agent' ? 'Agent' : 'Bot'} is typing…`;
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT);
    scrollDown();
  }

  function hideTyping() { clearTimeout(typingTimer); typing.hidden = true; }

  // ---- outgoing -----------------------------------------------------------------------------
  // A bubble whose http(s) addresses are links (media reach web chat as links).
  function bubble(text) {
    const b = el('div', 'tandem-bubble');
    const re = /https?:\/\/[^\s<>"]+/g;
    let last = 0, m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) b.appendChild(document.createTextNode(text.slice(last, m.index)));
      const a = el('a', null, m[0], { href: m[0], target: '_blank', rel: 'noopener noreferrer' });
      b.appendChild(a);
      last = m.index + m[0].length;
    }
    if (last < text.length) b.appendChild(document.createTextNode(text.slice(last)));
    return b;
  }

  // Uploads a file, then sends it as a message (the typed text, if any, is its caption).
  async function sendFile(file) {
    if (!session || !ready) { note('Connecting… send the file again in a moment.'); start(); return; }
    const caption = input.value.trim();
    let answer;
    try {
      const res = await fetch(`${uploadUrl}?name=${encodeURIComponent(file.name || 'file')}`, {
        method: 'POST',
        headers: { 'Content-Type': file.type || 'application/octet-stream', Authorization: `Bearer ${session}` },
        body: file,
      });
      if (!res.ok) {
        note(res.status === 413 ? 'That file is too large.' : res.status === 415 ? 'That kind of file cannot be sent.' : 'The file could not be sent.');
        return;
      }
      answer = await res.json();
    } catch (err) {
      note('The file could not be sent.');
      return;
    }
    input.value = '';
    autosize();
    const label = caption || file.name || 'file';
    post({ type: 'message', id: newId(), text: caption, media: String(answer.media) }, label);
    const last = list.lastElementChild && list.lastElementChild.querySelector('.tandem-bubble');
    if (last && String(file.type).startsWith('image/')) {
      const img = el('img', null, null, { alt: file.name || 'image' });
      img.src = URL.createObjectURL(file);
      last.prepend(img);
    }
  }

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  // Puts a message on the wire and waits up to ACK_TIMEOUT for its ack.
  function transmit(e) {
    if (!send(e.frame)) return;
    if (e.firstGen == null) e.firstGen = gen;
    clearTimeout(e.timer);
    e.timer = setTimeout(() => { if (e.status === 'sending') setStatus(e, 'failed'); }, ACK_TIMEOUT);
  }

  // After a welcome, (re)sends everything not yet acknowledged, oldest first, with the same ids.
  function flush() { outgoing.forEach((e) => { if (e.status === 'sending') transmit(e); }); }

  // While disconnected, nothing can be acknowledged: stop the ack clocks until the next welcome.
  function pauseAckTimers() { outgoing.forEach((e) => clearTimeout(e.timer)); }

  function post(frame, text) {
    const e = { id: frame.id, frame, text, time: fmtTime(), status: null, timer: null, firstGen: null, twin: null };
    Object.assign(e, addRow('customer', text, e.time));
    outgoing.set(e.id, e);
    seen.add(e.id);
    setStatus(e, 'sending');
    if (ready) transmit(e);
    start();
  }

  function sendText() {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    autosize();
    post({ type: 'message', id: newId(), text }, text);
  }

  function chips(row, buttons) {
    const box = el('div', 'tandem-chips');
    buttons.forEach((b) => {
      if (!b || b.payload == null) return;
      const label = String(b.title == null ? b.payload : b.title);
      const chip = el('button', 'tandem-chip', label, { type: 'button' });
      chip.addEventListener('click', () => {
        box.querySelectorAll('button').forEach((x) => { x.disabled = true; });
        post({ type: 'postback', id: newId(), payload: String(b.payload), title: label }, label);
      });
      box.appendChild(chip);
    });
    if (box.childNodes.length) row.appendChild(box);
  }

  // ---- incoming -----------------------------------------------------------------------------
  function onMessage(f) {
    const from = f.from === 'customer' || LABELS[f.from] ? f.from : 'bot';
    const text = f.text == null ? '' : String(f.text);
    if (f.id != null && seen.has(String(f.id))) return; // already on screen (history replay)
    if (from === 'customer') {
      // Replayed copy of a message this page sent on an earlier connection, under a server id.
      let twin = null;
      outgoing.forEach((e) => {
        if (!twin && !e.twin && e.firstGen != null && e.firstGen < gen && (e.text === text || e.frame.payload === text)) twin = e;
      });
      if (twin) { twin.twin = String(f.id); seen.add(twin.twin); return; }
    } else {
      hideTyping();
    }
    if (f.id != null) seen.add(String(f.id));
    const row = addRow(from, text, fmtTime(f.at), f.agent_name).row;
    if (Array.isArray(f.buttons) && f.buttons.length) { chips(row, f.buttons); scrollDown(); }
    if (!isOpen && from !== 'customer') { unread++; updateBadge(); }
  }

  function handle(f) {
    switch (f && f.type) {
      case 'welcome':
        if (f.session) { session = String(f.session); store.set(session); }
        conversationId = f.conversation_id || null;
        if ((cfg.user_token || cfg.user_hash) && f.verified === false) {
          console.warn('[tandem] user identity was not verified (check user_token or user_hash); chatting anonymously');
        }
        ready = true;
        attempt = 0;
        setConn('Online');
        flush();
        break;
      case 'ack': {
        const e = outgoing.get(String(f.id));
        if (e && e.status !== 'sent') { clearTimeout(e.timer); setStatus(e, 'sent'); }
        break;
      }
      case 'message': onMessage(f); break;
      case 'typing': showTyping(f.from); break;
      case 'error':
        console.warn('[tandem] server error:', f.code, f.message);
        if (!/^internal/i.test(String(f.code || ''))) note(f.message || 'Something went wrong.');
        break;
      default: break; // unknown frame types are ignored, for forward compatibility
    }
  }

  // ---- connection ---------------------------------------------------------------------------
  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    const my = ++gen;
    ready = false;
    setConn(attempt ? 'Reconnecting…' : 'Connecting…');
    let sock;
    try { sock = new WebSocket(url); } catch (err) { console.warn('[tandem] cannot connect:', err); scheduleReconnect(); return; }
    ws = sock;
    sock.onopen = () => {
      if (my !== gen) return;
      const hello = { type: 'hello' };
      if (session) hello.session = session;
      if (cfg.user) hello.user = cfg.user;
      if (cfg.user && cfg.user_hash) hello.user_hash = cfg.user_hash;
      if (cfg.user_token) hello.user_token = String(cfg.user_token);
      sock.send(JSON.stringify(hello));
    };
    sock.onmessage = (ev) => {
      if (my !== gen) return;
      let f;
      try { f = JSON.parse(ev.data); } catch (err) { console.warn('[tandem] bad frame ignored'); return; }
      handle(f);
    };
    sock.onclose = () => {
      if (my !== gen) return;
      ws = null;
      ready = false;
      pauseAckTimers();
      hideTyping();
      setConn('Reconnecting…');
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, attempt++));
    const delay = Math.min(BACKOFF_MAX, base * (0.75 + Math.random() * 0.5));
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }

  function start() { if (!started) { started = true; connect(); } }

  // Reconnects right away, e.g. after an identity change or a reset.
  function restart() {
    if (!started) return;
    const old = ws;
    pauseAckTimers();
    attempt = 0;
    connect(); // bumps gen, so events from the old socket are ignored
    if (old) { try { old.close(1000); } catch (err) { /* already closed */ } }
  }

  window.addEventListener('online', () => { if (started && !ws) { attempt = 0; connect(); } });

  // ---- UI wiring ----------------------------------------------------------------------------
  function autosize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 120)}px`;
  }

  function open(focus) {
    isOpen = true;
    panel.hidden = false;
    wrap.classList.add('tandem-open');
    launcher.setAttribute('aria-expanded', 'true');
    launcher.replaceChild(icon(ICON_CLOSE), launcher.firstChild);
    unread = 0;
    updateBadge();
    start();
    scrollDown();
    if (focus !== false) input.focus();
  }

  function close() {
    isOpen = false;
    panel.hidden = true;
    wrap.classList.remove('tandem-open');
    launcher.setAttribute('aria-expanded', 'false');
    launcher.replaceChild(icon(ICON_CHAT), launcher.firstChild);
    updateBadge();
  }

  launcher.addEventListener('click', () => (isOpen ? close() : open()));
  closeBtn.addEventListener('click', () => { close(); launcher.focus(); });
  wrap.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && isOpen) { ev.stopPropagation(); close(); launcher.focus(); }
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendText(); }
  });
  input.addEventListener('input', autosize);
  attachBtn.addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', () => {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = '';
    if (file) sendFile(file);
  });
  form.addEventListener('submit', (ev) => { ev.preventDefault(); sendText(); input.focus(); });

  window.Tandem = {
    version: '1',
    open() { open(); },
    close() { close(); },
    identify(identity) {
      const id = identity || {};
      cfg.user = id.user || null;
      cfg.user_hash = id.user_hash || null;
      cfg.user_token = id.user_token || null;
      restart();
    },
    reset() {
      store.clear();
      session = null;
      conversationId = null;
      outgoing.forEach((e) => clearTimeout(e.timer));
      outgoing.clear();
      seen.clear();
      hideTyping();
      while (list.firstChild) list.removeChild(list.firstChild);
      restart();
    },
    get conversationId() { return conversationId; },
  };

  function mount() {
    document.body.appendChild(host);
    if (cfg.open) open(false);
    else if (session) start(); // resume quietly so replies and the unread badge show up
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
