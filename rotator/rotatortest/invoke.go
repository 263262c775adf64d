package rotatortest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// FunctionError is the error a Lambda function returned from an Invoke,
// as the Lambda API reports it: the X-Amz-Function-Error header and a body
// {"errorMessage": ..., "errorType": ...}.
type FunctionError struct {
	// FunctionName is the function that was invoked.
	FunctionName string
	// ErrorType is the body's errorType (e.g. "errorString"), or the
	// X-Amz-Function-Error header ("Unhandled") when the body has none.
	ErrorType string
	// ErrorMessage is the body's errorMessage.
	ErrorMessage string
}

// Error describes the function's error by its type and message.
func (e *FunctionError) Error() string {
	return fmt.Sprintf("lambda function %s failed: %s: %s", e.FunctionName, e.ErrorType, e.ErrorMessage)
}

// InvokeHTTP returns a RotationFunc that invokes a Lambda function through
// the Lambda Invoke API as the Lambda Runtime Interface Emulator serves it:
// POST {baseURL}/2015-03-31/functions/{functionName}/invocations with the
// event as JSON. An answer with the X-Amz-Function-Error header, or whose
// body is an object with errorMessage or errorType, is a *FunctionError;
// any status other than 2xx is an error too.
func InvokeHTTP(baseURL string, functionName string) RotationFunc {
	endpoint := strings.TrimRight(baseURL, "/") + "/2015-03-31/functions/" + url.PathEscape(functionName) + "/invocations"
	client := &http.Client{}
	return func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		payload, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("invoking lambda function %s: %w", functionName, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20))
		if err != nil {
			return fmt.Errorf("reading the answer of lambda function %s: %w", functionName, err)
		}
		var fe struct {
			ErrorMessage *string `json:"errorMessage"`
			ErrorType    *string `json:"errorType"`
		}
		isErrBody := json.Unmarshal(body, &fe) == nil && (fe.ErrorMessage != nil || fe.ErrorType != nil)
		header := resp.Header.Get("X-Amz-Function-Error")
		if header != "" || isErrBody {
			e := &FunctionError{FunctionName: functionName, ErrorType: header}
			if fe.ErrorType != nil && *fe.ErrorType != "" {
				e.ErrorType = *fe.ErrorType
			}
			if fe.ErrorMessage != nil {
				e.ErrorMessage = *fe.ErrorMessage
			} else if !isErrBody {
				e.ErrorMessage = strings.TrimSpace(string(truncate(body, 512)))
			}
			return e
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("invoking lambda function %s: HTTP %d: %s", functionName, resp.StatusCode, strings.TrimSpace(string(truncate(body, 512))))
		}
		return nil
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
