#!/bin/sh
# azd postdeploy hook: subscribes the starter function to BlobCreated events of the uploads container.
# Runs after the code is deployed because an AzureFunction endpoint must exist when Event Grid validates it.
# azd passes its environment values (the UPPER_SNAKE outputs of infra/bicep/main.bicep) as variables.
set -eu

: "${RESOURCE_GROUP:?run through azd (azd up / azd deploy) so the environment values are set}"
: "${AZURE_FUNCTION_APP_NAME:?}" "${AZURE_STORAGE_ACCOUNT_NAME:?}" "${AZURE_EVENTGRID_SYSTEM_TOPIC:?}"
: "${AZURE_EVENTGRID_DEADLETTER_CONTAINER:=eventgrid-deadletter}"
starter=blobCreatedStarter
here=$(dirname "$0")

# The host indexes functions shortly after a deployment: wait up to 5 minutes for the starter to appear.
attempt=0
until az functionapp function show --resource-group "$RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
  --function-name "$starter" --query name --output tsv >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 30 ]; then
    echo "postdeploy: function $starter not found on $AZURE_FUNCTION_APP_NAME after 5 minutes" >&2
    exit 1
  fi
  sleep 10
done

az deployment group create \
  --resource-group "$RESOURCE_GROUP" \
  --name "eventgrid-subscription" \
  --template-file "$here/../bicep/modules/eventGridSubscription.bicep" \
  --parameters \
    systemTopicName="$AZURE_EVENTGRID_SYSTEM_TOPIC" \
    functionAppName="$AZURE_FUNCTION_APP_NAME" \
    storageAccountName="$AZURE_STORAGE_ACCOUNT_NAME" \
    deadLetterContainerName="$AZURE_EVENTGRID_DEADLETTER_CONTAINER" \
  --output none

echo "postdeploy: $AZURE_EVENTGRID_SYSTEM_TOPIC delivers new uploads/*.csv blobs to $starter"
