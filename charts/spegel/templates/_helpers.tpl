{{/* Chart name, or nameOverride. */}}
{{- define "spegel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: fullnameOverride, else the release name, suffixed with the chart name
unless the release name already contains it. */}}
{{- define "spegel.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "spegel.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "spegel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "spegel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spegel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "spegel.labels" -}}
helm.sh/chart: {{ include "spegel.chart" . }}
{{ include "spegel.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "spegel.serviceAccountName" -}}
{{- default (include "spegel.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "spegel.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The v0.7.4 topology (a hostPort plus a NodePort) when the user sets service.registry.hostPort;
else v0.8's (a NodePort with trafficDistribution PreferSameNode), or the host network. */}}
{{- define "spegel.v074Topology" -}}
{{- if and (not .Values.hostNetwork) (not (kindIs "invalid" .Values.service.registry.hostPort)) }}true{{ end }}
{{- end }}

{{/* The registry Service's NodePort. In the v0.7.4 topology a NodePort equal to the hostPort
would collide with it on every node; v0.7.4's own layout is hostPort 30020 and NodePort 30021, so
a v0.7.4 values file that sets only hostPort (keeping v0.7.4's NodePort default) gets hostPort + 1. */}}
{{- define "spegel.nodePort" -}}
{{- $r := .Values.service.registry }}
{{- if and (include "spegel.v074Topology" .) (eq (int $r.nodePort) (int $r.hostPort)) }}
{{- add (int $r.hostPort) 1 }}
{{- else }}
{{- $r.nodePort }}
{{- end }}
{{- end }}

{{/* The NODE_IP variable of a container. */}}
{{- define "spegel.nodeIpEnv" -}}
- name: NODE_IP
{{- if .Values.service.registry.nodeIp }}
  value: {{ .Values.service.registry.nodeIp | quote }}
{{- else }}
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
{{- end }}
{{- end }}

{{/* Mirror URLs for hosts.toml, in order: spegel.mirrorTargets if given, else the topology's
(host network: loopback; v0.7.4: hostPort then NodePort; v0.8: NodePort), then
spegel.additionalMirrorTargets. */}}
{{- define "spegel.mirrorTargets" -}}
{{- $targets := list }}
{{- if .Values.spegel.mirrorTargets }}
{{- $targets = .Values.spegel.mirrorTargets }}
{{- else if .Values.hostNetwork }}
{{- $targets = list (printf "http://127.0.0.1:%v" .Values.service.registry.port) }}
{{- else if include "spegel.v074Topology" . }}
{{- $targets = list (printf "http://$(NODE_IP):%v" .Values.service.registry.hostPort) (printf "http://$(NODE_IP):%v" (include "spegel.nodePort" .)) }}
{{- else }}
{{- $targets = list (printf "http://$(NODE_IP):%v" .Values.service.registry.nodePort) }}
{{- end }}
{{- concat $targets .Values.spegel.additionalMirrorTargets | toJson }}
{{- end }}

{{/* Name of the Secret holding the peer secret. */}}
{{- define "spegel.peerSecretName" -}}
{{- default (printf "%s-peer-secret" (include "spegel.fullname" .)) .Values.spegel.peerSecret.existingSecretName }}
{{- end }}

{{/* DNS name of the headless bootstrap Service. */}}
{{- define "spegel.bootstrapDomain" -}}
{{- printf "%s-bootstrap.%s.svc.%s" (include "spegel.fullname" .) (include "spegel.namespace" .) .Values.clusterDomain }}
{{- end }}
