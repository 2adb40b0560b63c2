{{/* Chart name. */}}
{{- define "ihub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name. */}}
{{- define "ihub.fullname" -}}
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

{{- define "ihub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "ihub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- if .Values.component.enabled }}
oda.tmforum.org/componentName: {{ include "ihub.componentName" . }}
{{- end }}
{{- end }}

{{/* The ODA Component's name (component.enabled), also the value of the label
oda.tmforum.org/componentName on every resource: <release>-<component.name>. */}}
{{- define "ihub.componentName" -}}
{{- printf "%s-%s" .Release.Name (required "component.name is required with component.enabled" .Values.component.name) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ihub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ihub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ihub.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "ihub.secretName" -}}
{{- default (printf "%s-secrets" (include "ihub.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/* True when the chart creates its own Secret. */}}
{{- define "ihub.createSecret" -}}
{{- with .Values.secrets }}
{{- if and (not .existingSecret) (or .searchUsername .searchPassword .searchApiKey .kafkaSaslUsername .kafkaSaslPassword) }}true{{ end }}
{{- end }}
{{- end }}

{{/* Worker replicas, never more than the topic partitions. */}}
{{- define "ihub.workerReplicas" -}}
{{- $p := int .Values.kafka.partitions }}
{{- if lt $p 1 }}{{ fail "kafka.partitions must be at least 1" }}{{ end }}
{{- min (int .Values.worker.replicas) $p }}
{{- end }}

{{/* Environment shared by the API and the workers. */}}
{{- define "ihub.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "ihub.fullname" . }}
{{- if or .Values.secrets.existingSecret (include "ihub.createSecret" .) }}
  - secretRef:
      name: {{ include "ihub.secretName" . }}
      optional: true
{{- end }}
{{- end }}

{{/* The CA bundles (tls.caSecret), mounted in the API and worker containers. */}}
{{- define "ihub.tlsVolumeMount" -}}
{{- if .Values.tls.caSecret }}
- name: tls-ca
  mountPath: {{ .Values.tls.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "ihub.tlsVolume" -}}
{{- if .Values.tls.caSecret }}
- name: tls-ca
  secret:
    secretName: {{ .Values.tls.caSecret }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by the API and the workers. */}}
{{- define "ihub.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
