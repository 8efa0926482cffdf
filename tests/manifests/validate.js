#!/usr/bin/env node
// Validates every object under manifests/ and checks the manifests against the binary.
//
//   node tests/manifests/validate.js            (after scripts/setup installed the validator)
//
// Environment: SPEGEL_BIN (default build/src/spegel; its `--help` is the truth for flags and its
// `version` for the image tag), MANIFESTS_NODE_DIR (default .cache/manifests-node: the npm
// install of tests/manifests/package-lock.json), KUBECTL (default: kubectl on PATH, if any).
//
// Checks, one "ok"/"not ok" line each, then "manifests: N passed, N failed":
// 1. schema: every object validates against the Kubernetes OpenAPI schema as compiled by the
//    npm package kubernetes-models (types, required fields, enums, int-or-string, formats), and
//    has no field the schema does not define (the compiled validators allow unknown fields, so
//    the field names are checked against the package's type declarations);
//    every object uses an API group/version that Kubernetes 1.21 serves.
// 2. kustomize: each kustomization.yaml lists files that exist, every YAML file is listed by
//    one, and (if kubectl is installed) `kubectl kustomize` builds it.
// 3. consistency: every --flag in a container's args exists in `spegel <subcommand> --help`;
//    every listening port (--registry-addr, --metrics-addr, --addr) is a declared containerPort
//    and every declared port is listened on; probes and Service targetPorts name declared ports
//    with the same number; --mirror-targets points at the registry port; the Service selects
//    the DaemonSet's pods; the image tag is `spegel version`.
"use strict";

const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");
const { spawnSync } = require("child_process");

const ROOT = path.resolve(__dirname, "..", "..");
const MANIFESTS = process.env.SPEGEL_MANIFESTS_DIR || path.join(ROOT, "manifests");
const NODE_DIR = process.env.MANIFESTS_NODE_DIR || path.join(ROOT, ".cache", "manifests-node");
const SPEGEL_BIN = process.env.SPEGEL_BIN || path.join(ROOT, "build", "src", "spegel");
const IMAGE_REPOSITORY = "ghcr.io/spegel-org/spegel-cpp";
// Images other than Spegel's a manifest may use: the kubelet's sandbox image (on every node).
const OTHER_IMAGES = new Set(["registry.k8s.io/pause:3.9"]);

// API group/versions served by Kubernetes 1.21 that these manifests may use.
const SERVED_IN_1_21 = new Set(["v1", "apps/v1", "rbac.authorization.k8s.io/v1",
  "policy/v1", "scheduling.k8s.io/v1", "networking.k8s.io/v1"]);

let passed = 0;
let failed = 0;
function check(name, fn) {
  let problems;
  try {
    problems = fn() || [];
  } catch (e) {
    problems = [`threw: ${e && e.stack ? e.stack : e}`];
  }
  if (problems.length === 0) {
    passed++;
    console.log(`ok      ${name}`);
  } else {
    failed++;
    console.log(`not ok  ${name}`);
    for (const p of problems) console.log(`        ${p}`);
  }
}

function finish() {
  console.log(`manifests: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

let req;
try {
  req = createRequire(path.join(NODE_DIR, "package.json"));
  req.resolve("kubernetes-models");
  req.resolve("yaml");
} catch (e) {
  check("validator installed", () => [`${NODE_DIR}: ${e.message} (run scripts/setup)`]);
  finish();
}
const YAML = req("yaml");
const MODELS_DIR = path.dirname(req.resolve("kubernetes-models/package.json"));

// ---- loading ---------------------------------------------------------------------------------

function yamlFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

const rel = (p) => path.relative(ROOT, p);
const files = yamlFiles(MANIFESTS);
const kustomizations = files.filter((f) => /^kustomization\.ya?ml$/.test(path.basename(f)));
const objects = []; // {file, obj}
for (const file of files) {
  if (kustomizations.includes(file)) continue;
  check(`parse ${rel(file)}`, () => {
    const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { strict: true });
    const problems = [];
    for (const doc of docs) {
      if (doc.errors.length) problems.push(...doc.errors.map((e) => e.message));
      else if (doc.contents !== null) objects.push({ file, obj: doc.toJS() });
    }
    if (docs.length === 0) problems.push("no YAML document");
    return problems;
  });
}

// ---- 1. schema ---------------------------------------------------------------------------------

function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  const dir = group ? path.join(MODELS_DIR, group, version) : path.join(MODELS_DIR, version);
  const file = path.join(dir, `${kind}.js`);
  if (!fs.existsSync(file)) return null;
  return { cls: req(file)[kind], dts: path.join(dir, `${kind}.d.ts`) };
}

// Field names per type, read from the package's .d.ts files: `export interface IName { "f"?: T }`
// with types imported from sibling files or @kubernetes-models/apimachinery.
const dtsCache = new Map();
function readDts(file) {
  if (dtsCache.has(file)) return dtsCache.get(file);
  const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const imports = new Map();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    for (const name of m[1].split(",").map((s) => s.trim().split(/\s+as\s+/).pop())) {
      if (name) imports.set(name, m[2]);
    }
  }
  const body = /export interface I\w+(?:\s+extends [^{]*)?\s*\{([\s\S]*?)\n\}/.exec(text);
  const props = new Map();
  if (body) {
    // Members end at a `;` outside braces/angle brackets; a type may span lines.
    let depth = 0;
    let member = "";
    for (const ch of body[1].replace(/\s+/g, " ")) {
      if (ch === "{" || ch === "<") depth++;
      if (ch === "}" || ch === ">") depth--;
      if (ch === ";" && depth === 0) {
        const m = /^\s*"([^"]+)"\??:\s*(.+)$/.exec(member);
        if (m) props.set(m[1], m[2].trim());
        member = "";
      } else {
        member += ch;
      }
    }
  }
  const entry = { file, imports, props };
  dtsCache.set(file, entry);
  return entry;
}

function resolveImport(fromFile, spec) {
  let base;
  if (spec.startsWith(".")) base = path.resolve(path.dirname(fromFile), spec);
  else base = path.join(path.dirname(req.resolve(`${spec.split("/")[0]}/${spec.split("/")[1]}/package.json`)),
    spec.split("/").slice(2).join("/"));
  return base.endsWith(".d.ts") ? base : `${base}.d.ts`;
}

// Walks `value` against the TypeScript type `type` declared in `dts`; collects unknown fields.
function unknownFields(value, type, dts, where, out) {
  type = type.trim();
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, m[1], dts, `${where}[${i}]`, out));
    return;
  }
  if ((m = /^\{\s*\[key: string\]:\s*(.+?);?\s*\}$/.exec(type))) {
    if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) unknownFields(v, m[1], dts, `${where}.${k}`, out);
    }
    return;
  }
  if (!dts.imports.has(type) || value === null || typeof value !== "object" || Array.isArray(value)) {
    return; // a primitive, IntOrString, Quantity or a free-form object
  }
  const target = readDts(resolveImport(dts.file, dts.imports.get(type)));
  checkObjectFields(value, target, where, out);
}

function checkObjectFields(value, dts, where, out) {
  if (dts.props.size === 0) return; // an alias type with no declared fields
  for (const [k, v] of Object.entries(value)) {
    if (!dts.props.has(k)) out.push(`${where}.${k}: field not in the schema`);
    else unknownFields(v, dts.props.get(k), dts, `${where}.${k}`, out);
  }
}

for (const { file, obj } of objects) {
  const id = `${obj.kind}/${obj.metadata && obj.metadata.name} (${rel(file)})`;
  check(`schema ${id}`, () => {
    if (!obj.apiVersion || !obj.kind) return ["missing apiVersion or kind"];
    const problems = [];
    if (!SERVED_IN_1_21.has(obj.apiVersion)) {
      problems.push(`${obj.apiVersion} is not in the list served by Kubernetes 1.21`);
    }
    const model = modelFor(obj.apiVersion, obj.kind);
    if (!model) return [...problems, `no schema for ${obj.apiVersion} ${obj.kind}`];
    try {
      new model.cls(obj).validate();
    } catch (e) {
      problems.push(e.message);
    }
    checkObjectFields(obj, readDts(model.dts), obj.kind, problems);
    return problems;
  });
}

// The field check must itself catch a typo, or it proves nothing.
check("schema check rejects unknown and mistyped fields (self-test)", () => {
  const model = modelFor("v1", "Service");
  const bad = { apiVersion: "v1", kind: "Service", metadata: { name: "x" },
    spec: { publishNotReadyAddress: true, ports: [{ port: 1, targetPorts: "x" }] } };
  const out = [];
  checkObjectFields(bad, readDts(model.dts), "Service", out);
  const problems = [];
  for (const f of ["Service.spec.publishNotReadyAddress", "Service.spec.ports[0].targetPorts"]) {
    if (!out.some((o) => o.startsWith(`${f}:`))) problems.push(`${f} not reported: ${out}`);
  }
  let threw = false;
  try {
    new model.cls({ ...bad, spec: { ports: [{ port: "not-a-number" }] } }).validate();
  } catch (e) {
    threw = true;
  }
  if (!threw) problems.push("a string port passed schema validation");
  return problems;
});

// ---- 2. kustomize -------------------------------------------------------------------------------

const listed = new Set();
for (const k of kustomizations) {
  check(`kustomization ${rel(k)}`, () => {
    const doc = YAML.parse(fs.readFileSync(k, "utf8"));
    const problems = [];
    if (doc.kind !== "Kustomization") problems.push(`kind is ${doc.kind}`);
    for (const r of doc.resources || []) {
      const p = path.join(path.dirname(k), r);
      if (!fs.existsSync(p)) problems.push(`resource ${r} does not exist`);
      listed.add(p);
    }
    const kubectl = process.env.KUBECTL || "kubectl";
    const res = spawnSync(kubectl, ["kustomize", path.dirname(k)], { encoding: "utf8", timeout: 60000 });
    if (res.error && res.error.code === "ENOENT") {
      console.log(`        (kubectl not installed: ${rel(k)} not built)`);
    } else if (res.status !== 0) {
      problems.push(`kubectl kustomize failed: ${res.stderr || res.error}`);
    } else {
      for (const d of YAML.parseAllDocuments(res.stdout)) {
        const o = d.toJS();
        if (o && o.kind !== "Namespace" && o.metadata.namespace !== doc.namespace) {
          problems.push(`${o.kind}/${o.metadata.name} built into namespace ${o.metadata.namespace}`);
        }
      }
    }
    return problems;
  });
}
check("every manifest is listed by a kustomization", () =>
  files.filter((f) => !kustomizations.includes(f) && !listed.has(f)).map((f) => `${rel(f)} is not listed`));

// ---- 3. consistency with the binary -----------------------------------------------------------

const helpCache = new Map();
function flagsOf(subcommand) {
  if (helpCache.has(subcommand)) return helpCache.get(subcommand);
  const res = spawnSync(SPEGEL_BIN, [subcommand, "--help"], { encoding: "utf8", timeout: 30000 });
  let flags = null;
  if (!res.error && res.status === 0) {
    flags = new Set([...(res.stdout + res.stderr).matchAll(/^\s+(--[a-z0-9][a-z0-9-]*)/gm)].map((m) => m[1]));
  }
  const entry = { flags, why: res.error ? res.error.message : `exit ${res.status}: ${(res.stderr || "").trim()}` };
  helpCache.set(subcommand, entry);
  return entry;
}

function portOfAddr(addr) {
  const m = /:(\d+)$/.exec(addr);
  return m ? Number(m[1]) : null;
}

const workloads = objects.filter(({ obj }) => obj.kind === "DaemonSet");
const services = objects.filter(({ obj }) => obj.kind === "Service");
const version = (() => {
  const res = spawnSync(SPEGEL_BIN, ["version"], { encoding: "utf8", timeout: 30000 });
  const words = (res.stdout || "").trim().split(/\s+/);
  return res.status === 0 && words[1] === "version" ? words[2] : null;
})();

for (const { file, obj } of workloads) {
  const spec = obj.spec.template.spec;
  const all = [...(spec.initContainers || []), ...spec.containers];
  for (const c of all) {
    const id = `${obj.metadata.name}/${c.name}`;
    if (!c.image.startsWith(`${IMAGE_REPOSITORY}:`)) {
      check(`image ${id}: only spegel or the kubelet's pause image`, () =>
        (OTHER_IMAGES.has(c.image) && !c.args && !c.command ? [] : [`unexpected image/args ${c.image}`]));
      continue;
    }
    const args = c.args || [];
    const values = new Map();
    for (const a of args.slice(1)) {
      const m = /^(--[a-z0-9-]+)(?:=(.*))?$/.exec(a);
      if (m) values.set(m[1], m[2]);
    }
    check(`flags ${id}: every flag exists in \`spegel ${args[0]} --help\``, () => {
      if (c.command) return ["sets command: the image entrypoint must stay /usr/bin/spegel"];
      const { flags, why } = flagsOf(args[0]);
      if (!flags) return [`\`${SPEGEL_BIN} ${args[0]} --help\` failed: ${why}`];
      const problems = [];
      for (const a of args.slice(1)) {
        const m = /^(--[a-z0-9-]+)/.exec(a);
        if (!m) problems.push(`argument ${a} is not --flag=value`);
        else if (!flags.has(m[1])) problems.push(`${m[1]} is not a flag of \`spegel ${args[0]}\``);
      }
      return problems;
    });
    check(`ports ${id}: listening addresses match containerPorts and probes`, () => {
      const problems = [];
      const declared = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
      const listening = [...values].filter(([f]) => /-addr$|^--addr$/.test(f)).map(([f, v]) => [f, portOfAddr(v)]);
      for (const [f, port] of listening) {
        if (port === null) problems.push(`${f} has no :PORT`);
        else if (![...declared.values()].includes(port)) problems.push(`${f} port ${port} is not a containerPort`);
      }
      for (const [name, port] of declared) {
        if (!listening.some(([, p]) => p === port)) problems.push(`containerPort ${name}=${port} has no listening flag`);
      }
      if (obj.spec.template.spec.hostNetwork) {
        for (const p of c.ports || []) {
          if (p.hostPort !== undefined && p.hostPort !== p.containerPort) problems.push(`hostPort != containerPort for ${p.name}`);
        }
      }
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const pr = c[probe];
        if (!pr) continue;
        const port = pr.httpGet && pr.httpGet.port;
        if (typeof port === "string" ? !declared.has(port) : ![...declared.values()].includes(port)) {
          problems.push(`${probe} port ${port} is not declared`);
        }
      }
      return problems;
    });
    check(`image ${id}: ${IMAGE_REPOSITORY}:<spegel version>`, () => {
      if (!version) return [`\`${SPEGEL_BIN} version\` failed`];
      const want = `${IMAGE_REPOSITORY}:${version}`;
      return c.image === want ? [] : [`image ${c.image}, want ${want}`];
    });
  }

  if (obj.metadata.name === "spegel") {
    check("DaemonSet spegel: node wiring (hostNetwork, DNS policy, probes, mounts, mirror target)", () => {
      const problems = [];
      if (spec.hostNetwork !== true) problems.push("hostNetwork is not true");
      if (spec.dnsPolicy !== "ClusterFirstWithHostNet") problems.push("dnsPolicy is not ClusterFirstWithHostNet");
      const registry = spec.containers.find((c) => c.name === "registry");
      const init = (spec.initContainers || []).find((c) => c.args && c.args[0] === "configuration");
      if (!registry || !init) return ["needs a `registry` container and a `configuration` init container"];
      if (!registry.readinessProbe || registry.readinessProbe.httpGet.path !== "/readyz") problems.push("readiness probe is not /readyz");
      if (!registry.livenessProbe || registry.livenessProbe.httpGet.path !== "/livez") problems.push("liveness probe is not /livez");
      for (const c of [registry, init]) {
        if (!c.resources || !c.resources.requests || !c.resources.limits) problems.push(`${c.name}: requests and limits`);
        if (!c.securityContext || c.securityContext.allowPrivilegeEscalation !== false || c.securityContext.privileged) {
          problems.push(`${c.name}: securityContext must forbid privilege escalation`);
        }
      }
      const flag = (c, f) => (c.args.find((a) => a.startsWith(`${f}=`)) || "").slice(f.length + 1);
      const mounts = new Map(registry.volumeMounts.map((m) => [m.mountPath, m]));
      const content = flag(registry, "--containerd-content-path");
      if (!mounts.has(flag(registry, "--containerd-sock"))) problems.push("the containerd socket is not mounted where --containerd-sock points");
      if (!mounts.has(content) || mounts.get(content).readOnly !== true) problems.push("the content store is not mounted read-only at --containerd-content-path");
      if (!init.volumeMounts.some((m) => m.mountPath === flag(init, "--containerd-registry-config-path"))) {
        problems.push("certs.d is not mounted where --containerd-registry-config-path points");
      }
      const target = flag(init, "--mirror-targets");
      const registryPort = portOfAddr(flag(registry, "--registry-addr"));
      if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(target) || portOfAddr(target) !== registryPort) {
        problems.push(`--mirror-targets ${target} is not http://127.0.0.1:<registry port ${registryPort}>`);
      }
      const tolerated = (spec.tolerations || []).map((t) => `${t.key || ""}:${t.effect || ""}:${t.operator}`);
      for (const t of [":NoSchedule:Exists", ":NoExecute:Exists"]) if (!tolerated.includes(t)) problems.push(`missing toleration ${t}`);
      const us = obj.spec.updateStrategy;
      if (!us || us.type !== "RollingUpdate") problems.push("updateStrategy is not RollingUpdate");
      return problems;
    });
  }
  if (obj.metadata.name === "spegel-cleanup") {
    check("DaemonSet spegel-cleanup: runs `cleanup` on every node and restores the same certs.d", () => {
      const problems = [];
      // Ready (what `rollout status` waits for) must imply cleanup finished: it is an init container.
      const c = (spec.initContainers || []).find((x) => x.args && x.args[0] === "cleanup");
      if (!c) return ["no init container runs `cleanup`"];
      if (spec.containers.length !== 1 || !OTHER_IMAGES.has(spec.containers[0].image)) {
        problems.push("the main container must only hold the pod (pause) so ready == cleaned");
      }
      const main = workloads.find((w) => w.obj.metadata.name === "spegel");
      const mainInit = main && main.obj.spec.template.spec.initContainers.find((x) => x.args[0] === "configuration");
      const path_ = (x) => (x.args.find((a) => a.startsWith("--containerd-registry-config-path=")) || "").split("=")[1];
      if (mainInit && path_(mainInit) !== path_(c)) problems.push("configuration and cleanup use different certs.d paths");
      const tolerated = (spec.tolerations || []).map((t) => `${t.effect || ""}:${t.operator}`);
      for (const t of ["NoSchedule:Exists", "NoExecute:Exists"]) if (!tolerated.includes(t)) problems.push(`missing toleration ${t}`);
      return problems;
    });
  }
}

for (const { obj: svc } of services) {
  check(`Service ${svc.metadata.name}: headless, selects the DaemonSet, ports match`, () => {
    const problems = [];
    if (svc.spec.clusterIP !== "None") problems.push("not headless (clusterIP: None)");
    if (svc.spec.publishNotReadyAddresses !== true) problems.push("publishNotReadyAddresses is not true");
    const sel = svc.spec.selector || {};
    const target = workloads.find(({ obj }) => {
      const labels = obj.spec.template.metadata.labels || {};
      return Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
    });
    if (!target) return [...problems, `selector ${JSON.stringify(sel)} matches no DaemonSet`];
    const ports = new Map();
    for (const c of target.obj.spec.template.spec.containers) for (const p of c.ports || []) ports.set(p.name, p.containerPort);
    for (const p of svc.spec.ports || []) {
      const tp = p.targetPort === undefined ? p.port : p.targetPort;
      const n = typeof tp === "string" ? ports.get(tp) : tp;
      if (n === undefined) problems.push(`port ${p.name}: targetPort ${tp} is not a container port`);
      else if (n !== p.port) problems.push(`port ${p.name}: service port ${p.port} != container port ${n}`);
      else if (![...ports.values()].includes(n)) problems.push(`port ${p.name}: ${n} is not a container port`);
    }
    return problems;
  });
}

check("ServiceAccount spegel has no API permissions and no token", () => {
  const problems = [];
  const sa = objects.find(({ obj }) => obj.kind === "ServiceAccount" && obj.metadata.name === "spegel");
  if (!sa) return ["no ServiceAccount spegel"];
  if (sa.obj.automountServiceAccountToken !== false) problems.push("automountServiceAccountToken is not false");
  for (const { obj } of objects) {
    if (/Role(Binding)?$/.test(obj.kind)) problems.push(`${obj.kind}/${obj.metadata.name} grants permissions`);
  }
  return problems;
});

finish();
