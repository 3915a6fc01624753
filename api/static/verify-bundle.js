/* chaintrace: the item page's own check of its proof bundle (docs/proof-bundle.md), in the
 * browser, asking the chain through the public RPC the page names: nothing of our server is
 * trusted but the bundle's bytes, which the chain confirms or refutes. Keccak-256 is js-sha3's
 * (vendored above this file, MIT). The CBV 2.0 projection hash is not recomputed here: the
 * command `chaintrace verify-bundle` does that; here each leaf, proof and root is recomputed and
 * the contract asked. */
(function () {
  "use strict";
  var panel = document.getElementById("verify-panel");
  var button = document.getElementById("verify-run");
  if (!panel || !button || !window.keccak256) return;
  var out = document.getElementById("verify-result");
  var T = panel.dataset;
  var TITLES = {};
  try { TITLES = JSON.parse(T.titles || "{}"); } catch (e) { TITLES = {}; }
  var DEV_CLIENTS = ["anvil/", "hardhatnetwork/", "ganache/", "ethereumjs testrpc/"];

  function hexToBytes(hex) {
    var h = hex.slice(2), out = new Uint8Array(h.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
    return out;
  }
  function concat(parts) {
    var n = 0, i, at = 0;
    for (i = 0; i < parts.length; i++) n += parts[i].length;
    var all = new Uint8Array(n);
    for (i = 0; i < parts.length; i++) { all.set(parts[i], at); at += parts[i].length; }
    return all;
  }
  function keccak(bytes) { return new Uint8Array(window.keccak256.array(bytes)); }
  function hex(bytes) {
    var s = "0x";
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s;
  }
  function word(n) { var w = new Uint8Array(32); w[31] = n & 255; w[30] = (n >> 8) & 255; w[29] = (n >> 16) & 255; w[28] = (n >>> 24) & 255; return w; }
  function isHash(v) { return typeof v === "string" && /^0x[0-9a-f]{64}$/.test(v); }
  function less(a, b) { for (var i = 0; i < 32; i++) { if (a[i] !== b[i]) return a[i] < b[i]; } return false; }

  var MEMBER_V1 = keccak(new TextEncoder().encode("chaintrace.member.v1"));
  function memberLeaf(kind, projectionHash, salt) {
    var encoded = concat([MEMBER_V1, word(2), word(kind), hexToBytes(projectionHash), hexToBytes(salt)]);
    return keccak(keccak(encoded));
  }
  function fold(leaf, proof) {
    var node = leaf;
    for (var i = 0; i < proof.length; i++) {
      var sib = hexToBytes(proof[i]);
      node = less(node, sib) || hex(node) === hex(sib) ? keccak(concat([node, sib])) : keccak(concat([sib, node]));
    }
    return node;
  }
  function selector(signature) { return hex(keccak(new TextEncoder().encode(signature))).slice(0, 10); }
  var VERIFY_MEMBER = selector("verifyMember(uint8,bytes32,bytes32,bytes32[])");
  var ROOT_INFO = selector("rootInfo(bytes32)");
  var BRAND_OF_GTIN = selector("brandOfGtin(string)");

  var rpcId = 0;
  function rpc(method, params) {
    return fetch(T.rpc, {
      method: "POST", headers: {"Content-Type": "application/json"}, credentials: "omit",
      body: JSON.stringify({jsonrpc: "2.0", id: ++rpcId, method: method, params: params})
    }).then(function (r) { return r.json(); }).then(function (r) {
      if (r.error) throw new Error(method + ": " + (r.error.message || "error"));
      return r.result;
    });
  }
  function call(to, data) { return rpc("eth_call", [{to: to, data: data}, "latest"]); }
  function words(result) {
    var h = result.slice(2), list = [];
    for (var i = 0; i + 64 <= h.length; i += 64) list.push(h.slice(i, i + 64));
    return list;
  }
  function num(w) { return parseInt(w, 16); }
  function addr(w) { return "0x" + w.slice(24).toLowerCase(); }

  function verifyMemberData(e) {
    var parts = [word(e.eventKind), hexToBytes(e.projectionHash), hexToBytes(e.salt), word(128), word(e.proof.length)];
    for (var i = 0; i < e.proof.length; i++) parts.push(hexToBytes(e.proof[i]));
    return VERIFY_MEMBER + hex(concat(parts)).slice(2);
  }
  function brandOfGtinData(gtin) {
    var text = new TextEncoder().encode(gtin), padded = new Uint8Array(Math.ceil(text.length / 32) * 32);
    padded.set(text);
    return BRAND_OF_GTIN + hex(concat([word(32), word(text.length), padded])).slice(2);
  }

  function finalityRule(rule) {
    if (rule.mode !== "auto") return Promise.resolve(rule.mode);
    return rpc("web3_clientVersion", []).then(function (v) {
      v = String(v).toLowerCase();
      for (var i = 0; i < DEV_CLIENTS.length; i++) if (v.indexOf(DEV_CLIENTS[i]) === 0) return "confirmations";
      return rpc("eth_getBlockByNumber", ["finalized", false]).then(function (b) { return b ? "tag" : "confirmations"; });
    }, function () { return "confirmations"; });
  }

  function checkEntry(e, head) {
    if (!isHash(e.projectionHash) || !isHash(e.salt) || !isHash(e.root) || !Array.isArray(e.proof) || !e.proof.every(isHash) || (e.eventKind !== 0 && e.eventKind !== 1)) {
      return Promise.resolve({ok: false, why: T.tMalformed});
    }
    var leaf = memberLeaf(e.eventKind, e.projectionHash, e.salt);
    if (hex(leaf) !== e.leaf) return Promise.resolve({ok: false, why: T.tLeaf});
    if (hex(fold(leaf, e.proof)) !== e.root) return Promise.resolve({ok: false, why: T.tProof});
    var contract = e.anchoring.contract;
    return call(contract, verifyMemberData(e)).then(function (r) {
      if (num(words(r)[0] || "0") !== 1) return {ok: false, why: T.tNotAccepted};
      return call(contract, ROOT_INFO + e.root.slice(2)).then(function (info) {
        var w = words(info), block = num(w[1]);
        if (num(w[0]) === 0) return {ok: false, why: T.tNotAnchored};
        if (block !== e.anchoring.blockNumber) return {ok: false, why: T.tBlock};
        var result = {ok: true, block: block, brand: addr(w[3]), endorsedBy: addr(w[6]), brandConfirmed: num(w[8]) === 1};
        if (head.mode === "tag") { result.final = head.finalized !== null && block <= head.finalized; result.left = null; }
        else { var done = head.latest - block; result.final = done >= head.confirmations; result.left = Math.max(0, head.confirmations - done); }
        return result;
      });
    });
  }

  function row(list, ok, title, text) {
    var li = document.createElement("li");
    li.className = ok === true ? "verify-ok" : ok === false ? "verify-bad" : "verify-wait";
    var mark = document.createElement("strong");
    mark.textContent = (ok === true ? "\u2713 " : ok === false ? "\u2717 " : "\u2026 ") + title;
    li.appendChild(mark);
    li.appendChild(document.createTextNode(" \u2013 " + text));
    list.appendChild(li);
  }
  function say(ok, text) {
    out.className = ok ? "verify-summary verify-ok" : "verify-summary verify-bad";
    out.setAttribute("data-verified", ok ? "ok" : "failed");
    var p = document.createElement("p"); p.className = "verify-overall"; p.textContent = text;
    out.insertBefore(p, out.firstChild);
  }

  function run() {
    button.disabled = true;
    out.textContent = T.tChecking; out.className = "verify-summary"; out.removeAttribute("data-verified");
    var bundle;
    fetch(T.bundle, {headers: {Accept: "application/json"}, credentials: "omit"})
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (b) {
        bundle = b;
        if (!b || b.format !== "chaintrace.proof-bundle" || b.version !== 1 || !Array.isArray(b.entries)) throw new Error(T.tMalformed);
        return rpc("eth_chainId", []);
      })
      .then(function (chainId) {
        if (parseInt(chainId, 16) !== bundle.chain.chainId) throw new Error(T.tChain);
        return Promise.all([finalityRule(bundle.finality), rpc("eth_blockNumber", [])]);
      })
      .then(function (found) {
        var head = {mode: found[0], latest: parseInt(found[1], 16), confirmations: bundle.finality.confirmations, finalized: null};
        var tag = head.mode === "tag" ? rpc("eth_getBlockByNumber", ["finalized", false]) : Promise.resolve(null);
        return tag.then(function (b) { head.finalized = b ? parseInt(b.number, 16) : null; return head; });
      })
      .then(function (head) {
        return Promise.all(bundle.entries.map(function (e) {
          return checkEntry(e, head).catch(function (err) { return {ok: false, why: String(err.message || err)}; });
        }));
      })
      .then(function (results) {
        out.textContent = "";
        var list = document.createElement("ul"); list.className = "verify-list";
        var allOk = results.length > 0, allFinal = true;
        results.forEach(function (r, i) {
          var e = bundle.entries[i];
          var title = (Object.prototype.hasOwnProperty.call(TITLES, e.bizStep) && TITLES[e.bizStep]) || e.bizStep || (e.projection && e.projection.type) || "?";
          if (!r.ok) { allOk = false; row(list, false, title, r.why); return; }
          if (!r.final) allFinal = false;
          var text = T.tBlockN.replace("%(block)s", r.block) + " \u00b7 " + (r.final ? T.tFinal : r.left ? T.tLeft.replace("%(n)s", r.left) : T.tAnchored);
          row(list, r.final ? true : null, title, text);
        });
        out.appendChild(list);
        return brandCheck(bundle, results).then(function (brand) {
          if (brand === false) allOk = false;
          if (brand !== null) row(list, brand, T.tBrandTitle, brand ? T.tBrandOk : T.tBrandBad);
          say(allOk, allOk ? (allFinal ? T.tAllOk : T.tAllOkNotFinal) : T.tFailed);
        });
      })
      .catch(function (err) { out.textContent = ""; say(false, T.tFailed + " " + String(err.message || err)); })
      .then(function () { button.disabled = false; });
  }

  function brandCheck(bundle, results) {
    var check = bundle.brandCheck;
    if (!check) return Promise.resolve(null);
    var i = bundle.entries.findIndex(function (e) { return e.root === check.root && e.bizStep === "commissioning"; });
    if (i < 0 || !results[i].ok) return Promise.resolve(false);
    if (String(check.contract).toLowerCase() !== String(bundle.entries[i].anchoring.contract).toLowerCase()) return Promise.resolve(false);
    return call(check.contract, brandOfGtinData(bundle.item.gtin)).then(function (r) {
      var holder = addr(words(r)[0] || "");
      var signers = [results[i].brand, results[i].endorsedBy];
      return results[i].brandConfirmed && signers.indexOf(holder) >= 0 && !/^0x0+$/.test(holder);
    }, function () { return false; });
  }

  button.addEventListener("click", run);
  button.hidden = false;
})();
