{{/* Names and labels shared by every template of the chart. */}}

{{- define "coral.name" -}}
coral
{{- end }}

{{/* "<release>-coral", or the release name when it already contains "coral"; 63 characters at most. */}}
{{- define "coral.fullname" -}}
{{- if contains "coral" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-coral" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end }}

{{- define "coral.operator.fullname" -}}
{{- printf "%s-operator" (include "coral.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "coral.operator.serviceAccountName" -}}
{{- default (include "coral.operator.fullname" .) .Values.operator.serviceAccount.name -}}
{{- end }}

{{/* Fixed: the name of the node-agent DaemonSet and of the ServiceAccount it runs as (operator/src/labels.rs NODE_AGENT_NAME). */}}
{{- define "coral.nodeAgent.name" -}}
coral-node-agent
{{- end }}

{{/* Fixed: the Secret with the node-agents' colonies file (operator/src/node_agent/colonies.rs SECRET_NAME). */}}
{{- define "coral.nodeAgent.coloniesSecretName" -}}
coral-node-agent-colonies
{{- end }}

{{/* Fixed: the Lease the operator's leader election uses (operator/src/leader.rs). */}}
{{- define "coral.operator.leaseName" -}}
coral-operator
{{- end }}

{{- define "coral.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: coral
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of the operator's pods (immutable once installed). */}}
{{- define "coral.operator.selectorLabels" -}}
app.kubernetes.io/name: coral-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "coral.operator.labels" -}}
{{ include "coral.labels" . }}
app.kubernetes.io/name: coral-operator
app.kubernetes.io/component: operator
{{- end }}

{{- define "coral.nodeAgent.labels" -}}
{{ include "coral.labels" . }}
app.kubernetes.io/name: coral-node-agent
app.kubernetes.io/component: node-agent
{{- end }}

{{/*
An image reference from {registry, repository, tag, digest}; the tag defaults
to the chart's appVersion, a digest pins it.
Usage: include "coral.image" (dict "image" .Values.operator.image "root" .)
*/}}
{{- define "coral.image" -}}
{{- $image := .image -}}
{{- $name := $image.repository -}}
{{- if $image.registry -}}
{{- $name = printf "%s/%s" $image.registry $image.repository -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $name $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $name (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end }}

{{/*
The node-agent DaemonSet's pod settings, as the JSON the operator reads
(--node-agent-settings): the operator, not Helm, creates that DaemonSet.
*/}}
{{- define "coral.nodeAgent.settings" -}}
{{- $agent := .Values.nodeAgent -}}
{{- $settings := dict
  "resources" $agent.resources
  "nodeSelector" $agent.nodeSelector
  "tolerations" $agent.tolerations
  "priorityClassName" $agent.priorityClassName
  "podAnnotations" $agent.podAnnotations
  "podLabels" $agent.podLabels
  "imagePullSecrets" .Values.imagePullSecrets
  "imagePullPolicy" $agent.image.pullPolicy
  "logLevel" $agent.logLevel
  "logFormat" (ternary "json" "human" (eq .Values.logging.format "json"))
  "drainIntervalSeconds" $agent.drainIntervalSeconds
  "metricsPort" $agent.metricsPort
-}}
{{- toJson $settings -}}
{{- end }}
