package tools

import (
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/airlock-mcp/airlock-mcp/schemas"
)

// definedTool is a tool's definition and compiled schemas, built from its
// embedded schema files <name>.input.schema.json and
// <name>.output.schema.json as they are (nothing filled in).
func definedTool(name, title, description string, annotations mcp.ToolAnnotation) (Tool, error) {
	inFile, outFile := name+".input.schema.json", name+".output.schema.json"
	input, err := schemas.Read(inFile)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: %s input schema: %w", name, err)
	}
	inSchema, err := schemas.Compile(inFile, input)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: %s input schema: %w", name, err)
	}
	output, err := schemas.Read(outFile)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: %s output schema: %w", name, err)
	}
	outSchema, err := schemas.Compile(outFile, output)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: %s output schema: %w", name, err)
	}
	def := mcp.NewToolWithRawSchema(name, description, input)
	def.RawOutputSchema = output
	def.Title = title
	annotations.Title = title
	def.Annotations = annotations
	return Tool{Definition: def, Input: inSchema, Output: outSchema}, nil
}
