// The tailwise web page: plain JavaScript over the service's JSON API on the same origin.
// Nothing is fetched from anywhere else, so the page works offline. Paths are relative to the
// page, so the service also works behind a reverse proxy that mounts it under a prefix.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const DEBOUNCE_MS = 250;
  /** What each re-ranker does with the tail weight (see tailwise.rerank). */
  const RERANK_HELP = {
    xquad: "Covers head and tail as two aspects of the list (xQuAD).",
    calibrated: "Matches the list's head/mid/tail mix to the user's own history.",
    mmr: "Diversifies the list by how different the items are from each other (MMR).",
    stochastic: "Samples the list from the scores: more weight, more exposure for the tail.",
    none: "The model's own order; the tail weight is off.",
  };

  /** Where the API key a person entered is kept: this tab only, gone when it closes. */
  const KEY_STORE = "tailwise-api-key";

  /** What the list is for: a user id or free-text interests, plus the sequence of the last request. */
  const state = { mode: null, userId: "", interests: "", seq: 0, controller: null, totalUsers: 0 };

  // ------------------------------------------------------------------ talking to the API
  class ApiError extends Error {}

  /** The API's `detail` as one readable line (a string, or FastAPI's list of field errors). */
  function describeError(response, data, text) {
    const detail = data && data.detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map((d) => {
        const where = (d.loc || []).filter((p) => p !== "body" && p !== "query" && p !== "path");
        return where.length ? `${where.join(".")}: ${d.msg}` : String(d.msg);
      }).join("; ");
    }
    const body = text && !data ? `: ${text.slice(0, 200)}` : "";
    return `The service answered ${response.status} ${response.statusText}${body}`;
  }

  async function callApi(path, options = {}) {
    const headers = { Accept: "application/json" };
    if (options.body) headers["Content-Type"] = "application/json";
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = `Bearer ${key}`;
    let response;
    try {
      response = await fetch(path, { ...options, headers });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(`Could not reach the service (${err.message}).`);
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (response.status === 401) $("key-form").hidden = false; // the service wants a key: ask for one
    if (!response.ok) throw new ApiError(describeError(response, data, text));
    return data;
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  // ------------------------------------------------------------------ small DOM helpers
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  function badge(isTail) {
    return el("span", {
      class: `badge ${isTail ? "tail" : "head"}`,
      title: isTail ? "Long-tail item: few interactions" : "Head item: among the most popular",
      text: isTail ? "TAIL" : "HEAD",
    });
  }

  const formatScore = (s) => (typeof s === "number" && Number.isFinite(s) ? s.toFixed(3) : "–");

  /** "1 interaction", "2 interactions": a count with its noun in the right number. */
  const plural = (n, one, many = `${one}s`) => `${Number(n).toLocaleString("en")} ${n === 1 ? one : many}`;

  /** Items this person marked "not for me" in this tab: left out of the lists on show. */
  const disliked = new Set();

  // ------------------------------------------------------------------ the list
  function listSettings() {
    const rerank = $("rerank").value;
    const tailWeight = rerank === "none" ? 0 : Number($("tail-weight").value);
    return { k: Number($("k").value), rerank, tailWeight };
  }

  function recommendRequest(settings) {
    const params = { k: Math.min(settings.k + disliked.size, 1000), tail_weight: settings.tailWeight };
    if (settings.rerank !== "none") params.rerank = settings.rerank;
    if (state.mode === "user") {
      const query = new URLSearchParams({ user_id: state.userId, ...params });
      return { path: `recommend?${query}`, options: {} };
    }
    if (state.mode === "similar") {
      const query = new URLSearchParams({ k: String(settings.k) });
      return { path: `similar/${encodeURIComponent(state.itemId)}?${query}`, options: {} };
    }
    const body = JSON.stringify({ query: state.interests, ...params });
    return { path: "recommend", options: { method: "POST", body } };
  }

  async function refresh() {
    if (!state.mode) return;
    const settings = listSettings();
    const { path, options } = recommendRequest(settings);
    if (state.controller) state.controller.abort();
    state.controller = new AbortController();
    const seq = ++state.seq;
    const list = $("results");
    list.setAttribute("aria-busy", "true");
    try {
      const data = await callApi(path, { ...options, signal: state.controller.signal });
      if (seq !== state.seq) return;
      showError("");
      renderList(data, settings);
      rememberInUrl(settings);
      loadHistory();
    } catch (err) {
      if (err.name === "AbortError" || seq !== state.seq) return;
      showError(err.message);
      $("results-summary").textContent = "No list: see the message above.";
      list.replaceChildren();
      $("tail-share").hidden = true;
    } finally {
      if (seq === state.seq) list.setAttribute("aria-busy", "false");
    }
  }

  /** The buttons under every item: items like it, and like / not for me (feedback for the user on show). */
  function actions(item) {
    const title = item.title || item.item_id;
    const similar = el("button", { type: "button", class: "action similar", text: "More like this",
                                   title: `Items like “${title}”` });
    similar.addEventListener("click", () => showSimilar(item.item_id, title));
    const forUser = state.mode === "user" && state.userId;
    const hint = forUser ? "" : "Recommend for a user id first: feedback is sent for that user";
    const like = el("button", { type: "button", class: "action like", text: "Like",
                                title: forUser ? `Tell the service user ${state.userId} likes this` : hint });
    const nope = el("button", { type: "button", class: "action dislike", text: "Not for me",
                                title: forUser ? `Tell the service user ${state.userId} does not want this` : hint });
    if (!forUser) { like.disabled = true; nope.disabled = true; }
    like.addEventListener("click", () => sendFeedback(item, 1, like));
    nope.addEventListener("click", () => sendFeedback(item, -1, nope));
    return el("div", { class: "actions" }, similar, like, nope);
  }

  function card(item) {
    const title = item.title || item.item_id;
    return el("li", { class: `card ${item.tail ? "is-tail" : "is-head"}`, dataset: { itemId: item.item_id } },
      el("span", { class: "rank", "aria-label": `rank ${item.rank}`, text: String(item.rank) }),
      el("div", { class: "card-body" },
        el("h3", { class: "title", text: title }),
        item.because ? el("p", { class: "because", text: item.because }) : null,
        el("p", { class: "meta" },
          badge(item.tail),
          el("span", { class: "score", text: `score ${formatScore(item.score)}` }),
          el("span", { class: "item-id", text: `id ${item.item_id}` })),
        actions(item)));
  }

  /** Post one feedback event for the user on show (value 1: like; -1: not for me, never counted as
   *  interest), then show the list and the history again. Needs a write key where the service has keys. */
  async function sendFeedback(item, value, button) {
    if (!(state.mode === "user" && state.userId)) return;
    button.disabled = true;
    try {
      const body = JSON.stringify({ events: [{ user_id: state.userId, item_id: item.item_id, type: "rating", value }] });
      await callApi("feedback", { method: "POST", body });
      if (value < 0) disliked.add(item.item_id);
      showError("");
      $("feedback-status").textContent = value < 0
        ? `Noted: user ${state.userId} does not want “${item.title || item.item_id}”.`
        : `Noted: user ${state.userId} likes “${item.title || item.item_id}”.`;
      await refresh();
    } catch (err) {
      showError(err.message);
      button.disabled = false;
    }
  }

  function showSimilar(itemId, title) {
    Object.assign(state, { mode: "similar", itemId, itemTitle: title });
    refresh();
  }

  // ------------------------------------------------------------------ the user's history
  async function loadHistory() {
    const panel = $("history-panel");
    if (state.mode !== "user") {
      panel.hidden = true;
      return;
    }
    try {
      const data = await callApi(`history?${new URLSearchParams({ user_id: state.userId, limit: "10" })}`);
      $("history-heading").textContent = `History of user ${state.userId}`;
      $("history-summary").textContent = data.known
        ? `${plural(data.total, "interaction")}${data.total > data.items.length ? `, ${data.items.length} shown` : ""}: feedback sent here first (latest first), then the training data.`
        : "No history: this user is not in the training data and has sent no feedback.";
      $("history").replaceChildren(...data.items.map((i) =>
        el("li", { class: "history-item", dataset: { itemId: i.item_id } },
          el("span", { class: "title", text: i.title || i.item_id }),
          el("span", { class: "meta" }, badge(i.tail),
            el("span", { class: "source", text: i.source === "feedback" ? "liked here" : "in training" })))));
      panel.hidden = false;
    } catch (err) {
      panel.hidden = true; // a key bound to another user, or an older service: no history panel
    }
  }

  function renderList(data, settings) {
    const items = ((data && data.items) || []).filter((i) => !disliked.has(i.item_id)).slice(0, settings.k);
    items.forEach((item, n) => { item.rank = n + 1; });
    const tail = items.filter((i) => i.tail).length;
    const list = $("results");
    list.replaceChildren(...items.map(card));
    list.dataset.tailCount = String(tail);
    const reranked = !(settings.rerank === "none" || settings.tailWeight === 0) && state.mode !== "similar";
    const who = state.mode === "user" ? `user ${state.userId}`
      : state.mode === "similar" ? `people who like “${state.itemTitle}”` : "your interests";
    const how = reranked ? `${settings.rerank}, tail weight ${settings.tailWeight.toFixed(2)}`
      : state.mode === "similar" ? "the model's item relations" : "model order";
    let text = items.length
      ? `${plural(items.length, "item")} for ${who} (${how}): ${tail} of ${items.length} from the long tail.`
      : `No items to recommend for ${who}.`;
    if (state.mode === "user" && data && data.known === false) {
      text += reranked
        ? ` This user is not in the training data, so these are the most popular items, re-ranked by ${settings.rerank}.`
        : " This user is not in the training data, so these are the most popular items.";
    }
    if (data && data.query) {
      const n = data.query.relevant;
      text += data.query.note ? ` ${data.query.note[0].toUpperCase()}${data.query.note.slice(1)}.` : ` All ${n} match your text.`;
    }
    $("results-summary").textContent = text;
    $("tail-share-meter").value = items.length ? tail / items.length : 0;
    $("tail-share-meter").textContent = `${tail} of ${items.length}`;
    $("tail-share").hidden = !items.length;
  }

  function rememberInUrl(settings) {
    const params = new URLSearchParams();
    if (state.mode === "user") params.set("user_id", state.userId);
    else if (state.mode === "similar") params.set("similar", state.itemId);
    else params.set("query", state.interests);
    params.set("k", String(settings.k));
    params.set("rerank", settings.rerank);
    params.set("tail_weight", String(settings.tailWeight));
    history.replaceState(null, "", `?${params}`);
  }

  function askForUser(userId) {
    userId = userId.trim();
    if (!userId) {
      showError("Type a user id first (or press Random user).");
      return;
    }
    Object.assign(state, { mode: "user", userId });
    refresh();
  }

  function askForInterests(text) {
    text = text.trim();
    if (!text) {
      showError("Describe your interests first, e.g. “space adventure for kids”.");
      return;
    }
    Object.assign(state, { mode: "interests", interests: text });
    refresh();
  }

  // ------------------------------------------------------------------ users (GET /users)
  async function loadUsers(prefix = "") {
    const query = new URLSearchParams({ limit: "20" });
    if (prefix) query.set("prefix", prefix);
    try {
      const data = await callApi(`users?${query}`);
      if (!prefix) state.totalUsers = data.total;
      $("user-ids").replaceChildren(...data.users.map((u) =>
        el("option", { value: u.user_id, label: plural(u.interactions, "interaction") })));
    } catch (err) {
      // listing users is off (pseudonymised ids): no suggestions, typing an id still works
      if (!prefix) $("random-user").hidden = true;
    }
  }

  async function randomUser() {
    try {
      if (!state.totalUsers) await loadUsers();
      const offset = Math.floor(Math.random() * state.totalUsers);
      const data = await callApi(`users?limit=1&offset=${offset}`);
      if (!data.users.length) throw new ApiError("The service has no users to pick from.");
      $("user-id").value = data.users[0].user_id;
      askForUser(data.users[0].user_id);
    } catch (err) {
      showError(err.message);
    }
  }

  // ------------------------------------------------------------------ model info
  async function loadInfo() {
    try {
      const info = await callApi("info");
      const counts = info.counts || {};
      const parts = [`model ${info.model}`];
      for (const [name, value] of Object.entries(counts)) {
        if (typeof value !== "number") continue;
        const label = name.replace(/_/g, " ");
        parts.push(`${value.toLocaleString("en")} ${value === 1 ? label.replace(/s$/, "") : label}`);
      }
      $("model-info").textContent = parts.join(" · ");
    } catch (err) {
      $("model-info").textContent = `The service is not answering: ${err.message}`;
    }
  }

  // ------------------------------------------------------------------ catalogue: search and add
  function foundItem(item, highlightId) {
    const badges = [badge(item.tail)];
    if (item.new) badges.push(el("span", { class: "badge new", title: "Added after training", text: "NEW" }));
    const counts = typeof item.interactions === "number" ? plural(item.interactions, "interaction") : null;
    return el("li", { class: item.item_id === highlightId ? "found-item highlight" : "found-item",
                      dataset: { itemId: item.item_id } },
      el("span", { class: "title", text: item.title || item.item_id }),
      el("span", { class: "meta" }, ...badges,
        counts ? el("span", { text: counts }) : null,
        el("span", { class: "item-id", text: `id ${item.item_id}` })),
      actions(item));
  }

  async function search(text, highlightId = null) {
    text = text.trim();
    const status = $("search-status");
    if (!text) {
      status.textContent = "Type some words to search for.";
      return;
    }
    try {
      const data = await callApi(`items?${new URLSearchParams({ q: text, limit: "10" })}`);
      const items = Array.isArray(data) ? data : data.items || [];
      $("search-results").replaceChildren(...items.map((i) => foundItem(i, highlightId)));
      let message = `${plural(items.length, "item")} ${items.length === 1 ? "matches" : "match"} “${text}”.`;
      if (highlightId !== null) {
        const at = items.findIndex((i) => i.item_id === highlightId);
        message = at >= 0
          ? `Found “${highlightId}” at position ${at + 1} of ${items.length} for its text.`
          : `“${highlightId}” is not among the ${items.length} best matches for its text.`;
      }
      status.textContent = message;
    } catch (err) {
      status.textContent = "";
      showError(err.message);
    }
  }

  async function addItem(event) {
    event.preventDefault();
    const status = $("item-status");
    const itemId = $("new-item-id").value.trim();
    const title = $("new-item-title").value.trim();
    const description = $("new-item-description").value.trim();
    if (!itemId || !title) {
      status.textContent = "";
      showError("A new item needs an id and a title.");
      return;
    }
    const text = description ? `${title}\n${description}` : title;
    const button = $("item-submit");
    button.disabled = true;
    try {
      const body = JSON.stringify({ items: [{ item_id: itemId, text }] });
      const result = await callApi("items", { method: "POST", body });
      showError("");
      status.textContent = result.added ? `Added “${itemId}”.` : `Updated “${itemId}”.`;
      $("search").value = text.replace(/\s+/g, " ");
      await search($("search").value, itemId);
      loadInfo();
      refresh(); // the list on show may now hold the new item
    } catch (err) {
      status.textContent = "";
      showError(err.message);
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ wiring
  function showTailWeight() {
    $("rerank-help").textContent = RERANK_HELP[$("rerank").value] || "";
    const none = $("rerank").value === "none";
    const slider = $("tail-weight");
    slider.disabled = none;
    $("tail-weight-value").textContent = none ? "off" : Number(slider.value).toFixed(2);
  }

  function restoreFromUrl() {
    const params = new URLSearchParams(location.search);
    const setIf = (id, key) => {
      if (!params.has(key)) return;
      const input = $(id), value = params.get(key);
      // a link may carry a value the menu lacks: offer it, and let the service judge it
      if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === value)) {
        input.append(el("option", { value, text: value }));
      }
      input.value = value;
    };
    setIf("k", "k");
    setIf("rerank", "rerank");
    setIf("tail-weight", "tail_weight");
    showTailWeight();
    if (params.get("user_id")) {
      $("user-id").value = params.get("user_id");
      askForUser(params.get("user_id"));
    } else if (params.get("similar")) {
      showSimilar(params.get("similar"), params.get("similar"));
    } else if (params.get("query")) {
      $("interests").value = params.get("query");
      askForInterests(params.get("query"));
    }
  }

  function init() {
    const refetchSoon = debounce(refresh, DEBOUNCE_MS);
    $("user-form").addEventListener("submit", (e) => { e.preventDefault(); askForUser($("user-id").value); });
    $("interests-form").addEventListener("submit", (e) => {
      e.preventDefault();
      askForInterests($("interests").value);
    });
    $("interests").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("interests-form").requestSubmit();
    });
    $("random-user").addEventListener("click", randomUser);
    $("user-id").addEventListener("input", debounce(() => loadUsers($("user-id").value.trim()), DEBOUNCE_MS));
    $("tail-weight").addEventListener("input", () => { showTailWeight(); refetchSoon(); });
    $("rerank").addEventListener("change", () => { showTailWeight(); refresh(); });
    $("k").addEventListener("change", refresh);
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search($("search").value); });
    $("item-form").addEventListener("submit", addItem);
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY_STORE, $("api-key").value.trim());
      location.reload();
    });
    loadInfo();
    loadUsers();
    restoreFromUrl();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
