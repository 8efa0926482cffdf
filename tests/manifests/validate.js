#!/usr/bin/env node
// Validates Kubernetes objects Spegel is installed with, and checks them against the binary.
//
//   node tests/manifests/validate.js [--suite NAME] [--mirror-target URL]... PATH...
//
// PATH is a directory (every .yaml under it: manifests/, with its kustomization.yaml) or a file
// of YAML documents (a `helm template` render). --mirror-target names a URL the user configured
// (spegel.mirrorTargets / additionalMirrorTargets) that is allowed besides the topology's own.
//
// Environment: SPEGEL_BIN (default build/src/spegel; its `--help` is the truth for flags and
// environment variables, its `version` for the image tag), MANIFESTS_NODE_DIR (default
// .cache/manifests-node: the npm install of tests/manifests/package-lock.json), KUBECTL
// (default .cache/helm/kubectl/kubectl, else kubectl on PATH).
//
// Checks, one "ok"/"not ok" line each, then "<suite>: N passed, N failed" (suite: manifests):
// 1. schema: every object validates against its OpenAPI schema as compiled by the npm packages
//    kubernetes-models (core kinds) and @kubernetes-models/{prometheus-operator,grafana-operator,
//    autoscaler} (ServiceMonitor, GrafanaDashboard, VerticalPodAutoscaler): types, required
//    fields, enums, formats; and has no field the schema does not define (the compiled
//    validators allow unknown fields, so field names are checked against the type
//    declarations). Core objects use an API group/version that Kubernetes 1.21 serves.
// 2. kustomize: each kustomization.yaml lists files that exist, every YAML file is listed by
//    one, and `kubectl kustomize` builds it.
// 3. consistency: every --flag in a Spegel container's args exists in `spegel <subcommand>
//    --help`, and every environment variable it sets is one spegel reads or one its args use as
//    $(NAME); listening ports (--registry-addr, --router-addr, --metrics-addr, --addr) are
//    declared containerPorts and vice versa; probes name declared ports; every Service selects
//    pods and targets their ports; each --mirror-targets URL reaches the registry port through
//    the topology (host network: 127.0.0.1; a hostPort; a NodePort Service) or was configured;
//    the containerd socket, content store (read-only), certs.d and peer secret are mounted where
//    the flags point; the uninstall hook restores the certs.d path the init container writes and
//    its wait Pod probes the cleanup Service's name and port; images are
//    ghcr.io/spegel-org/spegel-cpp:<spegel version>; no RBAC, no service account token.
"use strict";

const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");
const { spawnSync } = require("child_process");

const ROOT = path.resolve(__dirname, "..", "..");
const NODE_DIR = process.env.MANIFESTS_NODE_DIR || path.join(ROOT, ".cache", "manifests-node");
const SPEGEL_BIN = process.env.SPEGEL_BIN || path.join(ROOT, "build", "src", "spegel");
const IMAGE_REPOSITORY = "ghcr.io/spegel-org/spegel-cpp";

// API group/versions served by Kubernetes 1.21 that core objects may use.
const SERVED_IN_1_21 = new Set(["v1", "apps/v1", "rbac.authorization.k8s.io/v1",
  "policy/v1", "scheduling.k8s.io/v1", "networking.k8s.io/v1"]);
// Custom resources the chart renders only when asked to, with the package holding their schema.
const CRD_PACKAGES = new Map([
  ["monitoring.coreos.com", "@kubernetes-models/prometheus-operator"],
  ["grafana.integreatly.org", "@kubernetes-models/grafana-operator"],
  ["autoscaling.k8s.io", "@kubernetes-models/autoscaler"],
]);

const argv = process.argv.slice(2);
let suite = "manifests";
const configuredTargets = new Set();
const inputs = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--suite") suite = argv[++i];
  else if (argv[i] === "--mirror-target") configuredTargets.add(argv[++i]);
  else inputs.push(path.resolve(argv[i]));
}
if (inputs.length === 0) inputs.push(path.join(ROOT, "manifests"));

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
  console.log(`${suite}: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

let req;
try {
  req = createRequire(path.join(NODE_DIR, "package.json"));
  req.resolve("kubernetes-models");
  req.resolve("yaml");
  for (const pkg of CRD_PACKAGES.values()) req.resolve(`${pkg}/package.json`);
} catch (e) {
  check("validator installed", () => [`${NODE_DIR}: ${e.message} (run scripts/setup)`]);
  finish();
}
const YAML = req("yaml");
const packageDir = (name) => path.dirname(req.resolve(`${name}/package.json`));

// ---- loading ---------------------------------------------------------------------------------

function yamlFiles(p) {
  if (!fs.statSync(p).isDirectory()) return [p];
  const out = [];
  for (const e of fs.readdirSync(p, { withFileTypes: true })) {
    const child = path.join(p, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(child));
    else if (/\.ya?ml$/.test(e.name)) out.push(child);
  }
  return out.sort();
}

const rel = (p) => path.relative(ROOT, p);
const files = inputs.flatMap(yamlFiles);
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
  let dir;
  if (CRD_PACKAGES.has(group)) dir = path.join(packageDir(CRD_PACKAGES.get(group)), group, version);
  else if (group) dir = path.join(packageDir("kubernetes-models"), group, version);
  else dir = path.join(packageDir("kubernetes-models"), version);
  const file = path.join(dir, `${kind}.js`);
  if (!fs.existsSync(file)) return null;
  return { cls: req(file)[kind], dts: path.join(dir, `${kind}.d.ts`) };
}

// Field names per type, read from the packages' .d.ts files: `export interface IName { "f"?: T }`
// with types imported from sibling files or other @kubernetes-models packages.
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

// The declaration file an import names, resolved from the importing file (packages may nest
// their own versions of the shared ones).
function resolveImport(fromFile, spec) {
  let base;
  if (spec.startsWith(".")) {
    base = path.resolve(path.dirname(fromFile), spec);
  } else {
    const parts = spec.split("/");
    const pkg = spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
    const rest = parts.slice(spec.startsWith("@") ? 2 : 1).join("/");
    base = path.join(path.dirname(createRequire(fromFile).resolve(`${pkg}/package.json`)), rest);
  }
  if (base.endsWith(".d.ts")) return base;
  return `${base.replace(/\.js$/, "")}.d.ts`;
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
    const group = obj.apiVersion.includes("/") ? obj.apiVersion.split("/")[0] : "";
    if (!SERVED_IN_1_21.has(obj.apiVersion) && !CRD_PACKAGES.has(group)) {
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
  const problems = [];
  const cases = [
    ["v1", "Service", { spec: { publishNotReadyAddress: true, ports: [{ port: 1, targetPorts: "x" }] } },
      ["Service.spec.publishNotReadyAddress", "Service.spec.ports[0].targetPorts"]],
    ["monitoring.coreos.com/v1", "ServiceMonitor", { spec: { selector: {}, endpoints: [{ prot: "x" }] } },
      ["ServiceMonitor.spec.endpoints[0].prot"]],
  ];
  for (const [apiVersion, kind, body, want] of cases) {
    const model = modelFor(apiVersion, kind);
    const out = [];
    checkObjectFields({ apiVersion, kind, metadata: { name: "x" }, ...body }, readDts(model.dts), kind, out);
    for (const f of want) if (!out.some((o) => o.startsWith(`${f}:`))) problems.push(`${f} not reported: ${out}`);
  }
  let threw = false;
  try {
    new (modelFor("v1", "Service").cls)({ apiVersion: "v1", kind: "Service", metadata: { name: "x" },
      spec: { ports: [{ port: "not-a-number" }] } }).validate();
  } catch (e) {
    threw = true;
  }
  if (!threw) problems.push("a string port passed schema validation");
  return problems;
});

// ---- 2. kustomize -------------------------------------------------------------------------------

function kubectlBin() {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  const cached = path.join(ROOT, ".cache", "helm", "kubectl", "kubectl");
  return fs.existsSync(cached) ? cached : "kubectl";
}

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
    const res = spawnSync(kubectlBin(), ["kustomize", path.dirname(k)], { encoding: "utf8", timeout: 60000 });
    if (res.error || res.status !== 0) {
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
if (kustomizations.length) {
  check("every manifest is listed by a kustomization", () =>
    files.filter((f) => !kustomizations.includes(f) && !listed.has(f)).map((f) => `${rel(f)} is not listed`));
}

// ---- 3. consistency with the binary -----------------------------------------------------------

// `spegel <subcommand> --help`: its flags and the environment variables it reads.
const helpCache = new Map();
function helpOf(subcommand) {
  if (helpCache.has(subcommand)) return helpCache.get(subcommand);
  const res = spawnSync(SPEGEL_BIN, [subcommand, "--help"], { encoding: "utf8", timeout: 30000 });
  let flags = null;
  let envs = null;
  if (!res.error && res.status === 0) {
    const text = res.stdout + res.stderr;
    flags = new Set([...text.matchAll(/^\s+(--[a-z0-9][a-z0-9-]*)/gm)].map((m) => m[1]));
    envs = new Set([...text.matchAll(/^\s+env ([A-Z0-9_]+)/gm)].map((m) => m[1]));
  }
  const entry = { flags, envs, why: res.error ? res.error.message : `exit ${res.status}: ${(res.stderr || "").trim()}` };
  helpCache.set(subcommand, entry);
  return entry;
}

function portOfAddr(addr) {
  const m = /:(\d+)$/.exec(addr || "");
  return m ? Number(m[1]) : null;
}
const flagValues = (c, f) => (c.args || []).filter((a) => a.startsWith(`${f}=`)).map((a) => a.slice(f.length + 1));
const flagValue = (c, f) => flagValues(c, f)[0] || "";
const selects = (selector, labels) =>
  Object.keys(selector || {}).length > 0 && Object.entries(selector).every(([k, v]) => (labels || {})[k] === v);

const version = (() => {
  const res = spawnSync(SPEGEL_BIN, ["version"], { encoding: "utf8", timeout: 30000 });
  const words = (res.stdout || "").trim().split(/\s+/);
  return res.status === 0 && words[1] === "version" ? words[2] : null;
})();

// Pod templates: DaemonSets and bare Pods (the uninstall hook's wait Pod).
const podOwners = objects.filter(({ obj }) => obj.kind === "DaemonSet" || obj.kind === "Pod").map(({ file, obj }) => ({
  file, obj, spec: obj.kind === "Pod" ? obj.spec : obj.spec.template.spec,
  labels: obj.kind === "Pod" ? obj.metadata.labels : obj.spec.template.metadata.labels,
}));
const services = objects.filter(({ obj }) => obj.kind === "Service").map(({ obj }) => obj);

check("Spegel's workloads are rendered (the registry DaemonSet)", () =>
  (podOwners.some(({ spec }) => spec.containers.some((c) => (c.args || [])[0] === "registry"))
    ? [] : ["no container runs `registry`"]));

for (const { obj, spec } of podOwners) {
  const all = [...(spec.initContainers || []), ...spec.containers];
  for (const c of all) {
    const id = `${obj.kind} ${obj.metadata.name}/${c.name}`;
    if (!c.image.startsWith(`${IMAGE_REPOSITORY}:`) && !c.image.startsWith(`${IMAGE_REPOSITORY}@`)) {
      continue; // a user's extraInitContainers
    }
    const args = c.args || [];
    check(`flags ${id}: every flag exists in \`spegel ${args[0]} --help\`, every env var is read`, () => {
      if (c.command) return ["sets command: the image entrypoint must stay /usr/bin/spegel"];
      const { flags, envs, why } = helpOf(args[0]);
      if (!flags) return [`\`${SPEGEL_BIN} ${args[0]} --help\` failed: ${why}`];
      const problems = [];
      for (const a of args.slice(1)) {
        const m = /^(--[a-z0-9-]+)=/.exec(a);
        if (!m) problems.push(`argument ${a} is not --flag=value`);
        else if (!flags.has(m[1])) problems.push(`${m[1]} is not a flag of \`spegel ${args[0]}\``);
      }
      for (const e of c.env || []) {
        if (!envs.has(e.name) && !args.some((a) => a.includes(`$(${e.name})`))) {
          problems.push(`env ${e.name} is neither read by \`spegel ${args[0]}\` nor used as $(${e.name})`);
        }
      }
      for (const a of args) {
        for (const m of a.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!(c.env || []).some((e) => e.name === m[1])) problems.push(`${a} uses $(${m[1]}), which is not set`);
        }
      }
      return problems;
    });
    check(`ports ${id}: listening addresses match containerPorts and probes`, () => {
      const problems = [];
      const declared = new Map((c.ports || []).map((p) => [p.name, p.containerPort]));
      const listening = ["--registry-addr", "--router-addr", "--metrics-addr", "--addr"]
        .filter((f) => flagValue(c, f)).map((f) => [f, portOfAddr(flagValue(c, f))]);
      for (const [f, port] of listening) {
        if (port === null) problems.push(`${f} has no :PORT`);
        else if (![...declared.values()].includes(port)) problems.push(`${f} port ${port} is not a containerPort`);
      }
      for (const [name, port] of declared) {
        if (!listening.some(([, p]) => p === port)) problems.push(`containerPort ${name}=${port} has no listening flag`);
      }
      if (spec.hostNetwork) {
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
      if (c.image.startsWith(`${IMAGE_REPOSITORY}@sha256:`)) return [];
      const want = `${IMAGE_REPOSITORY}:${version}`;
      return c.image === want ? [] : [`image ${c.image}, want ${want}`];
    });
    check(`mounts ${id}: what the flags point at is mounted`, () => {
      const problems = [];
      const mounts = c.volumeMounts || [];
      const volumes = new Map((spec.volumes || []).map((v) => [v.name, v]));
      const under = (p) => mounts.find((m) => p === m.mountPath || p.startsWith(`${m.mountPath.replace(/\/$/, "")}/`));
      const need = (f, readOnly) => {
        const p = flagValue(c, f);
        if (!p) return;
        const m = under(p);
        if (!m) problems.push(`${f}=${p} is not under a volume mount`);
        else if (readOnly && m.readOnly !== true) problems.push(`${f}=${p} is mounted writable`);
        else if (!volumes.has(m.name)) problems.push(`mount ${m.name} has no volume`);
        return m;
      };
      need("--containerd-sock");
      need("--containerd-content-path", true);
      need("--containerd-registry-config-path");
      need("--containerd-config", true);
      const secret = flagValue(c, "--peer-secret-file");
      const m = need("--peer-secret-file", true);
      if (m && volumes.has(m.name)) {
        const v = volumes.get(m.name);
        const item = path.relative(m.mountPath, secret);
        if (!v.secret) problems.push(`--peer-secret-file is not on a Secret volume`);
        else if (v.secret.items && !v.secret.items.some((i) => i.path === item)) problems.push(`Secret volume ${m.name} has no item ${item}`);
        else if (!objects.some(({ obj: o }) => o.kind === "Secret" && o.metadata.name === v.secret.secretName)) {
          // The chart names a Secret it does not render only when the user provides it.
          console.log(`        (Secret ${v.secret.secretName} is not rendered here: the user provides it)`);
        }
      }
      for (const mount of mounts) {
        const v = volumes.get(mount.name);
        if (!v) problems.push(`mount ${mount.name} has no volume`);
        else if (v.hostPath && mount.mountPath !== v.hostPath.path) {
          problems.push(`hostPath ${v.hostPath.path} is mounted at ${mount.mountPath}: flags would name a path the node does not have`);
        }
      }
      return problems;
    });
  }
}

// The registry DaemonSet: how containerd reaches it (mirror targets) and how it is uninstalled.
for (const { obj, spec, labels } of podOwners) {
  const registry = spec.containers.find((c) => (c.args || [])[0] === "registry");
  if (!registry) continue;
  const init = (spec.initContainers || []).find((c) => (c.args || [])[0] === "configuration");
  const name = `DaemonSet ${obj.metadata.name}`;
  const registryPort = portOfAddr(flagValue(registry, "--registry-addr"));
  const portDecl = (registry.ports || []).find((p) => p.containerPort === registryPort) || {};

  check(`${name}: node wiring (probes, tolerations, security, resources)`, () => {
    const problems = [];
    if (!registry.readinessProbe || registry.readinessProbe.httpGet.path !== "/readyz") problems.push("readiness probe is not /readyz");
    if (!registry.startupProbe || registry.startupProbe.httpGet.path !== "/readyz") problems.push("startup probe is not /readyz");
    if (registry.livenessProbe && registry.livenessProbe.httpGet.path !== "/livez") problems.push("liveness probe is not /livez");
    for (const c of [registry, init].filter(Boolean)) {
      if (!c.resources || !c.resources.limits || !c.resources.limits.memory) problems.push(`${c.name}: no memory limit`);
      if (!c.securityContext || c.securityContext.allowPrivilegeEscalation !== false || c.securityContext.privileged) {
        problems.push(`${c.name}: securityContext must forbid privilege escalation`);
      }
      if (!c.securityContext || c.securityContext.readOnlyRootFilesystem !== true) problems.push(`${c.name}: root filesystem is writable`);
    }
    if (spec.hostNetwork && spec.dnsPolicy !== "ClusterFirstWithHostNet") problems.push("hostNetwork without dnsPolicy ClusterFirstWithHostNet");
    const tolerated = (spec.tolerations || []).map((t) => `${t.key || ""}:${t.effect || ""}:${t.operator}`);
    for (const t of [":NoSchedule:Exists", ":NoExecute:Exists"]) if (!tolerated.includes(t)) problems.push(`missing toleration ${t}`);
    const domain = flagValue(registry, "--dns-bootstrap-domain");
    const headless = services.find((s) => s.spec.clusterIP === "None" && s.spec.publishNotReadyAddresses === true &&
      selects(s.spec.selector, labels) && domain.startsWith(`${s.metadata.name}.${s.metadata.namespace}.svc.`));
    if (domain && !headless) problems.push(`--dns-bootstrap-domain ${domain} is not a headless Service (publishNotReadyAddresses) selecting these pods`);
    return problems;
  });

  if (!init) continue;
  check(`${name}: every --mirror-targets URL reaches the registry port ${registryPort}`, () => {
    const problems = [];
    const ok = new Map(); // url -> how
    if (spec.hostNetwork) ok.set(`http://127.0.0.1:${registryPort}`, "host network");
    if (portDecl.hostPort) ok.set(`http://$(NODE_IP):${portDecl.hostPort}`, "hostPort");
    for (const s of services) {
      if (s.spec.type !== "NodePort" || !selects(s.spec.selector, labels)) continue;
      for (const p of s.spec.ports) {
        const tp = p.targetPort === undefined ? p.port : p.targetPort;
        if (tp === portDecl.name || tp === registryPort) ok.set(`http://$(NODE_IP):${p.nodePort}`, `NodePort ${s.metadata.name}`);
      }
    }
    const targets = flagValues(init, "--mirror-targets");
    if (targets.length === 0) problems.push("no --mirror-targets");
    for (const t of targets) if (!ok.has(t) && !configuredTargets.has(t)) problems.push(`${t} is neither the topology's (${[...ok.keys()].join(", ")}) nor configured`);
    if (portDecl.hostPort && !spec.hostNetwork) {
      const [first, second] = targets;
      if (first !== `http://$(NODE_IP):${portDecl.hostPort}` || !/^http:\/\/\$\(NODE_IP\):\d+$/.test(second || "")) {
        problems.push(`v0.7.4 topology: the hostPort target must come first, then the NodePort (${targets})`);
      }
    }
    return problems;
  });

  const cleanup = podOwners.find(({ spec: s }) => s.containers.some((c) => (c.args || [])[0] === "cleanup"));
  check(`${name}: the uninstall hook restores the certs.d it writes and waits for every node`, () => {
    if (!cleanup) return ["no workload runs `cleanup`"];
    const problems = [];
    const c = cleanup.spec.containers.find((x) => (x.args || [])[0] === "cleanup");
    const certsd = flagValue(init, "--containerd-registry-config-path");
    if (flagValue(c, "--containerd-registry-config-path") !== certsd) problems.push("configuration and cleanup use different certs.d paths");
    const initVolume = (spec.volumes || []).find((v) => init.volumeMounts.some((m) => m.mountPath === certsd && m.name === v.name));
    const cleanVolume = (cleanup.spec.volumes || []).find((v) => c.volumeMounts.some((m) => m.mountPath === certsd && m.name === v.name));
    if (!initVolume || !cleanVolume || !initVolume.hostPath || !cleanVolume.hostPath || initVolume.hostPath.path !== cleanVolume.hostPath.path) {
      problems.push("configuration and cleanup do not mount the same host certs.d");
    }
    const hook = (cleanup.obj.metadata.annotations || {})["helm.sh/hook"];
    if (hook !== "post-delete") problems.push(`the cleanup DaemonSet is not a post-delete hook (${hook})`);
    const addrPort = portOfAddr(flagValue(c, "--addr"));
    const svc = services.find((s) => s.spec.clusterIP === "None" && s.spec.publishNotReadyAddresses === true && selects(s.spec.selector, cleanup.labels));
    if (!svc) return [...problems, "no headless Service selects the cleanup pods"];
    const svcPort = svc.spec.ports.find((p) => {
      const tp = p.targetPort === undefined ? p.port : p.targetPort;
      return tp === addrPort || (c.ports || []).some((cp) => cp.name === tp && cp.containerPort === addrPort);
    });
    if (!svcPort) problems.push(`the cleanup Service does not target --addr port ${addrPort}`);
    const wait = podOwners.flatMap(({ spec: s }) => s.containers).find((x) => (x.args || [])[0] === "cleanup-wait");
    if (!wait) return [...problems, "no container runs `cleanup-wait`"];
    const endpoint = flagValue(wait, "--probe-endpoint");
    const domain = flagValue(registry, "--dns-bootstrap-domain").replace(/^[^.]+\.[^.]+\.svc\./, "");
    const want = `${svc.metadata.name}.${svc.metadata.namespace}.svc.${domain}:${svcPort ? svcPort.port : "?"}`;
    if (endpoint !== want) problems.push(`cleanup-wait --probe-endpoint=${endpoint}, want ${want}`);
    return problems;
  });
}

for (const svc of services) {
  check(`Service ${svc.metadata.name}: selects Spegel's pods and targets their ports`, () => {
    const problems = [];
    const target = podOwners.find(({ labels }) => selects(svc.spec.selector, labels));
    if (!target) return [`selector ${JSON.stringify(svc.spec.selector)} matches no pods`];
    const ports = new Map();
    for (const c of target.spec.containers) for (const p of c.ports || []) ports.set(p.name, p.containerPort);
    for (const p of svc.spec.ports || []) {
      const tp = p.targetPort === undefined ? p.port : p.targetPort;
      const n = typeof tp === "string" ? ports.get(tp) : tp;
      if (n === undefined || ![...ports.values()].includes(n)) problems.push(`port ${p.name}: targetPort ${tp} is not a container port`);
    }
    return problems;
  });
}

check("the ServiceAccount has no API permissions and no token", () => {
  const problems = [];
  const accounts = objects.filter(({ obj }) => obj.kind === "ServiceAccount");
  if (accounts.length !== 1) return [`${accounts.length} ServiceAccounts`];
  if (accounts[0].obj.automountServiceAccountToken !== false) problems.push("automountServiceAccountToken is not false");
  for (const { spec } of podOwners) {
    if (spec.serviceAccountName !== accounts[0].obj.metadata.name) problems.push(`a pod runs as ${spec.serviceAccountName}`);
    if (spec.automountServiceAccountToken !== false) problems.push("a pod mounts a service account token");
  }
  for (const { obj } of objects) {
    if (/Role(Binding)?$/.test(obj.kind)) problems.push(`${obj.kind}/${obj.metadata.name} grants permissions`);
  }
  return problems;
});

finish();
