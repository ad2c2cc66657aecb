{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "ippool-validator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "ippool-validator.fullname" -}}
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

{{- define "ippool-validator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ippool-validator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ippool-validator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ippool-validator.labels" -}}
helm.sh/chart: {{ include "ippool-validator.chart" . }}
{{ include "ippool-validator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: admission-webhook
{{- end }}

{{- define "ippool-validator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ippool-validator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret holding tls.crt and tls.key for the server. */}}
{{- define "ippool-validator.tlsSecretName" -}}
{{- if eq .Values.tls.mode "existingSecret" }}
{{- required "tls.existingSecret.name is required when tls.mode is existingSecret" .Values.tls.existingSecret.name }}
{{- else }}
{{- printf "%s-tls" (include "ippool-validator.fullname" .) }}
{{- end }}
{{- end }}

{{/* DNS names the API server may use for the Service; the serving certificate must cover them. */}}
{{- define "ippool-validator.serviceDNSNames" -}}
{{- $svc := include "ippool-validator.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/* matchConditions are GA (on by default, stable API) from Kubernetes 1.30. */}}
{{- define "ippool-validator.matchConditionsSupported" -}}
{{- if semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version }}true{{ end }}
{{- end }}

{{- define "ippool-validator.policyConfigMapName" -}}
{{- if .Values.policy.existingConfigMap }}
{{- .Values.policy.existingConfigMap }}
{{- else if .Values.policy.config }}
{{- printf "%s-policy" (include "ippool-validator.fullname" .) }}
{{- end }}
{{- end }}

{{- define "ippool-validator.image" -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}

{{- define "ippool-validator.certManagerIssuerRef" -}}
{{- if .Values.tls.certManager.issuerRef }}
{{- toJson .Values.tls.certManager.issuerRef }}
{{- else }}
{{- dict "name" (printf "%s-ca" (include "ippool-validator.fullname" .)) "kind" "Issuer" "group" "cert-manager.io" | toJson }}
{{- end }}
{{- end }}

{{- /*
One entry of the ValidatingWebhookConfiguration, written once and called for each judged resource. Takes a
dict: root (the chart's context), resource, groups (a list of [apiGroup, apiVersion]), operations,
failurePolicy, timeoutSeconds, excluded (namespaces), caBundle ("" when cert-manager injects it) and, for
Nodes, labelChange (a CEL matchCondition, "" where the API server has no matchConditions).
*/}}
{{- define "ippool-validator.webhook" -}}
{{- $fullname := include "ippool-validator.fullname" .root -}}
- name: {{ printf "%s.%s.%s.svc" .resource $fullname .root.Release.Namespace }}
  admissionReviewVersions: ["v1"]
  sideEffects: None
  matchPolicy: Equivalent
  failurePolicy: {{ .failurePolicy }}
  timeoutSeconds: {{ int .timeoutSeconds }}
  namespaceSelector:
    matchExpressions:
      - key: kubernetes.io/metadata.name
        operator: NotIn
        values: {{ toJson .excluded }}
  clientConfig:
    service:
      name: {{ $fullname }}
      namespace: {{ .root.Release.Namespace }}
      path: /validate
      port: {{ int .root.Values.service.port }}
    {{- with .caBundle }}
    caBundle: {{ . }}
    {{- end }}
  rules:
    {{- range .groups }}
    - apiGroups: [{{ index . 0 | quote }}]
      apiVersions: [{{ index . 1 | quote }}]
      resources: [{{ $.resource | quote }}]
      operations: {{ toJson $.operations }}
      scope: Cluster
    {{- end }}
  {{- with .labelChange }}
  matchConditions:
    - name: create-or-label-change
      expression: {{ quote . }}
  {{- end }}
{{- end }}

{{- /* The exporter's own names and labels: a separate Deployment, so an audit of a large cluster can never
take memory or CPU from the webhook that guards the CNI. */}}
{{- define "ippool-validator.exporterName" -}}
{{- printf "%s-exporter" (include "ippool-validator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /* A name of its own, so the webhook's Service, PDB and anti-affinity (which select on name and instance)
never count exporter pods; the webhook's selector cannot change (it is immutable on upgrade). */}}
{{- define "ippool-validator.exporterSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-exporter" (include "ippool-validator.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: exporter
{{- end }}

{{- define "ippool-validator.exporterServiceAccountName" -}}
{{- if .Values.exporter.serviceAccount.create }}
{{- default (include "ippool-validator.exporterName" .) .Values.exporter.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.exporter.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ippool-validator.exporterLabels" -}}
helm.sh/chart: {{ include "ippool-validator.chart" . }}
{{ include "ippool-validator.exporterSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
