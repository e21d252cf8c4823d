// Command grafanads is a minimal Grafana backend data source built with
// grafana-plugin-sdk-go, the way Grafana's scaffolding builds one: it answers
// CheckHealth and QueryData (one frame per query, holding the query's time
// range and the "constant" its JSON model names).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

type ds struct{}

func (ds) CheckHealth(_ context.Context, req *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	// Grafana always sends the data source's settings; the SDK reads them.
	s := req.PluginContext.DataSourceInstanceSettings
	return &backend.CheckHealthResult{
		Status:  backend.HealthStatusOk,
		Message: fmt.Sprintf("data source %s is working", s.Name),
	}, nil
}

type model struct {
	Constant float64 `json:"constant"`
}

func (ds) QueryData(_ context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		var m model
		if err := json.Unmarshal(q.JSON, &m); err != nil {
			resp.Responses[q.RefID] = backend.ErrDataResponse(backend.StatusBadRequest, "query JSON: "+err.Error())
			continue
		}
		frame := data.NewFrame("response",
			data.NewField("time", nil, []time.Time{q.TimeRange.From.UTC(), q.TimeRange.To.UTC()}),
			data.NewField("value", nil, []float64{m.Constant, m.Constant}),
		)
		resp.Responses[q.RefID] = backend.DataResponse{Frames: data.Frames{frame}}
	}
	return resp, nil
}

func main() {
	if err := backend.Serve(backend.ServeOpts{CheckHealthHandler: ds{}, QueryDataHandler: ds{}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
